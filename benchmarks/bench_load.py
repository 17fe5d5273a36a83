"""Time a small fit alone and beside busy processes, for several thread policies (docs/performance.md,
"Beside other work"). One line per fit: policy, busy processes, wall seconds, PSNR, the OpenMP wait the
fit chose, load average before and after; then each policy's median time beside the busy processes over its
median alone. With --serial, single-threaded Python work is timed in the same conditions: the slowdown that
no thread policy can remove.

    git archive 7317a61 | (mkdir -p /tmp/base38 && tar -x -C /tmp/base38)    # the code before the policy
    python benchmarks/bench_load.py --policy today=/tmp/base38 --policy policy=. --repeat 2
    python benchmarks/bench_load.py --policy "passive=/tmp/base38 OMP_WAIT_POLICY=PASSIVE" --busy 4
    python benchmarks/bench_load.py --policy policy=. --busy 4 --serial --repeat 3

A policy is LABEL=CHECKOUT [VAR=VALUE ...]: main.py of that checkout, with those variables set. Busy
processes are Python loops (--busy_kind spin) or numpy matrix products (matmul). Policies and
conditions are interleaved (A alone, B alone, A busy, B busy, ...) so that a change of the machine's
other load falls on all of them alike.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUSY = {"spin": "while True: pass",
        "matmul": "import numpy as np\na = np.random.rand(300, 300)\nwhile True: a @ a"}
# --serial: single-threaded work timed in the same conditions, what the busy processes do to work no
# thread policy touches
SERIAL = {"serial_loop": "s = 0\nfor i in range(20_000_000): s += i", "serial_import": "import torch, scipy.stats"}


def make_image(path, size):
    """DIV2K test image 00 (or scikit-image's astronaut) resized to size x size, as tests/conftest.py does."""
    import imageio.v2 as imageio
    import numpy as np
    from skimage import data
    from skimage.transform import resize

    src = os.path.join(ROOT, "..", "shared", "data", "div2k", "test_data", "00.png")
    img = imageio.imread(src) if os.path.isfile(src) else data.astronaut()
    imageio.imwrite(path, resize(img, (size, size), anti_aliasing=True, preserve_range=True).round().astype(np.uint8))


def fit(checkout, env, image, args, save_dir):
    """(wall seconds, PSNR at the last epoch) of one main.py fit."""
    cmd = [sys.executable, "main.py", "--input_path", image, "--hidden_layers", str(args.layers), "--hidden_features",
           str(args.features), "--num_epochs", str(args.epochs), "--log_epoch", str(args.epochs), "--device", "cpu",
           "--save_dir", save_dir, "--no_images", "--quiet"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=os.path.abspath(checkout), env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"error: {checkout}: main.py exit {p.returncode}: {p.stderr.strip().splitlines()[-1:]}")
    done = [line for line in p.stderr.splitlines() if " done: " in line][-1]
    said = [line for line in p.stderr.splitlines() if "OpenMP wait policy " in line]  # util/threads.py's line
    wait = [line.split("OpenMP wait policy ")[1].split()[0] for line in said]
    return wall, float(done.split(" psnr ")[1].split()[0]), (wait or [env.get("OMP_WAIT_POLICY", "default").lower()])[0]


def serial(code, env):
    """(wall seconds, None, None) of one single-threaded `python -c code`."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=dict(env, OMP_NUM_THREADS="1"), check=True)
    return time.perf_counter() - t0, None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", action="append", required=True, help="LABEL=CHECKOUT [VAR=VALUE ...]")
    ap.add_argument("--busy", default="4", help="busy processes beside the fit, a comma list (0: alone only)")
    ap.add_argument("--busy_kind", choices=BUSY, default="spin")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", choices=("alone", "busy"), default=None, help="one condition only")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--serial", action="store_true", help="also time single-threaded Python work (SERIAL) likewise")
    args = ap.parse_args()
    policies = []
    for spec in args.policy:
        label, rest = spec.split("=", 1)
        checkout, *pairs = rest.split()
        base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY",
                                                                  "GOMP_SPINCOUNT")}
        policies.append((label, checkout, {**base, **dict(p.split("=", 1) for p in pairs)}))
    if args.serial:
        policies += [(label, None, dict(os.environ)) for label in SERIAL]
    tmp = tempfile.mkdtemp(prefix="bench_load_")
    image = os.path.join(tmp, f"div2k00_{args.size}px.png")
    make_image(image, args.size)
    busy_counts = [int(n) for n in args.busy.split(",")]
    conditions = [n for n in dict.fromkeys([0] + busy_counts)
                  if args.only is None or (n == 0) == (args.only == "alone")]
    times = {}
    for r in range(args.repeat):
        for n in conditions:
            busy = [subprocess.Popen([sys.executable, "-c", BUSY[args.busy_kind]], env=dict(os.environ, OMP_NUM_THREADS="1"))
                    for _ in range(n)]
            try:
                time.sleep(2 if n else 0)
                for label, checkout, env in policies:
                    before = os.getloadavg()[0]
                    wall, psnr, wait = (serial(SERIAL[label], env) if checkout is None else
                                        fit(checkout, env, image, args, os.path.join(tmp, f"{label}_{n}_{r}")))
                    times.setdefault((label, n), []).append(wall)
                    print(json.dumps({"policy": label, "busy": n, "wall_s": round(wall, 1), "psnr": psnr, "wait": wait,
                                      "load_before": round(before, 2), "load_after": round(os.getloadavg()[0], 2)}),
                          flush=True)
            finally:
                for b in busy:
                    b.kill()
                    b.wait()
    if 0 in conditions:
        for label, _, _ in policies:
            alone = statistics.median(times[label, 0])
            for n in conditions[1:]:
                loaded = statistics.median(times[label, n])
                print(json.dumps({"policy": label, "busy": n, "alone_s": round(alone, 1), "busy_s": round(loaded, 1),
                                  "ratio": round(loaded / alone, 2)}))


if __name__ == "__main__":
    main()
