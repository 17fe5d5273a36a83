"""Seeded mutation fuzzer over run folders, logs and checkpoints, through the real entry points.

    python benchmarks/fuzz_inputs.py [--seed 0] [--n 60] [--out /tmp/fuzz] [--kinds args,latest,...]

It makes a small real run (two 16 px images, interrupted after a snapshot), a one-task sweep with a
jobs.json, and a published-code log, then mutates one file per mutant (bytes, JSON values of the
wrong type, paths that leave the folder, links, NaN / dtype / shape changes in a checkpoint) and
runs main.py --resume / --eval_ckpt, run.py --resume / --status and `python summarize.py` on
it. A mutant is flagged for a traceback, an exit code other than 0 / 2 (run.py: 0 / 1 / 2), more
than one "error:" line on exit 2, or a file created outside the folder the command was given.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the code under test (--root changes it)
HERE = ROOT  # this fuzzer's own tree (its walk helper)
TINY = ["--num_epochs", "40", "--log_epoch", "20", "--snap_epoch", "10", "--hidden_features", "16",
        "--hidden_layers", "1", "--quiet", "--device", "cpu", "--no_images", "--eager"]
WRONG = [None, True, -1, 0, 2 ** 70, -2 ** 70, 1e308, "abc", "", "../../outside", "/abs/elsewhere", [], [1, "x"], {},
         {"a": 1}, "x|y\n## forged", 0.5, "\u0000", "NaN"]


def py(args, cwd, env=None, timeout=300):
    e = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT, **(env or {}))
    t = time.time()
    p = subprocess.run([sys.executable, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)
    return p, time.time() - t


def files_under(top):
    out, stack = set(), [top]  # not os.walk, which recurses: a mutant 1100 folders deep would stop the fuzzer
    while stack:
        dirpath = stack.pop()
        try:
            entries = list(os.scandir(dirpath))
        except OSError:
            continue
        dirs = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        files = [e.name for e in entries if not e.is_dir(follow_symlinks=False)]
        stack += [os.path.join(dirpath, d) for d in dirs]
        out.update(os.path.join(dirpath, f) for f in files + dirs)
    return out


# ---- the base folders --------------------------------------------------------------------------------

def make_base(base):
    import imageio.v2 as imageio

    from tests.conftest import smooth_image

    data = os.path.join(base, "data")
    os.makedirs(data)
    for i in range(2):
        imageio.imwrite(os.path.join(data, f"{i}.png"), smooth_image(16, 16, seed=i))
    p, _ = py([os.path.join(ROOT, "main.py"), "--input_path", data, "--save_dir", os.path.join(base, "log"), *TINY],
              base)
    assert p.returncode == 0, p.stderr
    run = os.path.join(base, "log", "debug", os.listdir(os.path.join(base, "log", "debug"))[0])
    ckpts = sorted(f for f in os.listdir(os.path.join(run, "ckpt")) if f.startswith("ckpt_1_"))
    mid = next(f for f in ckpts if f.split("_")[2] == "30")
    with open(os.path.join(run, "ckpt", "latest.json"), "w") as f:  # as a run killed after epoch 30 of sample 1
        json.dump({"file": mid, "sample": "1", "epoch": 30}, f)
    res = json.load(open(os.path.join(run, "results.json")))
    res["complete"] = False
    json.dump(res, open(os.path.join(run, "results.json"), "w"))
    # a one-task sweep, as run.py leaves it (its task never started), and a submitted sweep's jobs.json
    sweep_dir = os.path.join(base, "sweep", "001_trans")
    os.makedirs(os.path.join(sweep_dir, "jobs"))
    folder = os.path.join(sweep_dir, "sym_power_2026-01-01-00:00:00_abcd")
    argv = ["--transform", "sym_power", "--input_path", data, *TINY, "--up_folder_name", "001_trans",
            "--tag", "sym_power", "--save_dir", os.path.join(base, "sweep"), "--run_folder", folder]
    json.dump({"experiment": "001", "started": "now", "tasks": [
        {"name": "sym_power", "set": "sym_power", "argv": argv, "status": "not started", "rc": None, "folder": folder,
         "wall_s": None, "pid": None}]}, open(os.path.join(sweep_dir, "sweep.json"), "w"))
    json.dump({"experiment": "001", "jobs": {"sym_power": {
        "job_id": "123", "argv": argv, "folder": folder, "launcher": "local",
        "state_file": os.path.join(sweep_dir, "jobs", "sym_power.json")}}}, open(os.path.join(sweep_dir, "jobs.json"), "w"))
    json.dump({"state": "failed", "rc": 2, "folder": folder, "last_line": "error: x", "requeues": 1},
              open(os.path.join(sweep_dir, "jobs", "sym_power.json"), "w"))
    # the published code's log
    shutil.copytree(os.path.join(ROOT, "tests", "vectors", "reference_log"), os.path.join(base, "published"))
    return {"data": data, "run": os.path.relpath(run, base), "sweep": os.path.relpath(sweep_dir, base)}


# ---- mutations ---------------------------------------------------------------------------------------

def json_paths(v, prefix=()):
    yield prefix
    if isinstance(v, dict):
        for k, x in v.items():
            yield from json_paths(x, prefix + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v[:20]):
            yield from json_paths(x, prefix + (i,))


def set_path(doc, path, value, delete=False):
    if not path:
        return value
    node = doc
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


def mutate_bytes(rng, raw):
    op = rng.choice(["truncate", "flip", "insert", "empty", "latin1", "nest"])
    if op == "truncate":
        return raw[: rng.randrange(max(1, len(raw)))], op
    if op == "flip":
        b = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256)
        return bytes(b), op
    if op == "insert":
        i = rng.randrange(len(raw) + 1)
        return raw[:i] + rng.choice([b"\xff\xfe", b"NaN", b"]]", b"{", b"\x00", b"Infinity,"]) + raw[i:], op
    if op == "empty":
        return b"", op
    if op == "latin1":
        return raw.replace(b'"', b'"\xe9', 1), op
    return b"[" * 100000 + b"]" * 100000, op


def mutate_json(rng, path):
    raw = open(path, "rb").read()
    if rng.random() < 0.3:
        new, op = mutate_bytes(rng, raw)
        open(path, "wb").write(new)
        return f"bytes:{op}"
    doc = json.loads(raw)
    paths = list(json_paths(doc))
    where = rng.choice(paths)
    if where and rng.random() < 0.2:
        doc = set_path(doc, where, None, delete=True)
        op = f"delete {where}"
    else:
        value = rng.choice(WRONG)
        doc = set_path(doc, where, value)
        op = f"set {where} = {value!r}"[:120]
    text = json.dumps(doc)
    if "NaN" in op and rng.random() < 0.5:
        text = text.replace('"NaN"', "NaN")
    open(path, "w").write(text)
    return op


def mutate_checkpoint(rng, path):
    import torch

    if rng.random() < 0.25:
        new, op = mutate_bytes(rng, open(path, "rb").read())
        open(path, "wb").write(new)
        return f"bytes:{op}"
    state = torch.load(path, weights_only=True)
    op = rng.choice(["nan", "dtype", "shape", "drop", "wrong", "perm", "nominal", "relabel", "recorder", "rng",
                     "optim", "params"])
    if op in ("nan", "dtype", "shape"):
        k = rng.choice(list(state["model"]))
        t = state["model"][k]
        state["model"][k] = {"nan": lambda: t.clone().fill_(float("nan")), "dtype": lambda: t.to(
            rng.choice([torch.int64, torch.complex64, torch.float64, torch.float16])),
            "shape": lambda: t.reshape(-1)[:-1].clone()}[op]()
        op += f" {k}"
    elif op == "drop":
        k = rng.choice(list(state))
        del state[k]
        op += f" {k}"
    elif op == "wrong":
        k = rng.choice(list(state))
        state[k] = rng.choice([None, 3, "x", [], {}, -5])
        op += f" {k}={state[k]!r}"
    elif op == "perm":
        state["prepare"]["perm"] = torch.arange(rng.choice([3, 255, 256, 257]))
    elif op == "nominal":
        state["signal"]["nominal"][rng.choice(["lo", "hi", "levels"])] = rng.choice([float("nan"), -1.0, "x", 1e30])
    elif op == "relabel":
        state["signal"]["type"] = rng.choice(["video", "audio", "mesh"])
        if rng.random() < 0.5:
            state["args"]["signal_type"] = state["signal"]["type"]
    elif op == "recorder":
        state["recorder"][rng.choice(["samples", "finished", "time_s", "attributes"])] = rng.choice(
            [None, "x", [1], {"a": {"x": "y"}}, -1.0])
    elif op == "rng":
        state["rng"][rng.choice(["torch", "numpy", "python"])] = rng.choice(
            [torch.zeros(3, dtype=torch.uint8), [1, 2], "x", (3, tuple(range(10)), None)])
    elif op == "optim":
        st = state["optimizer"]["state"]
        if st:
            k = rng.choice(list(st))
            st[k]["exp_avg"] = torch.zeros(7)
    else:
        tf = state["transform"]["params"]
        key = rng.choice(list(tf) or ["x"])
        tf[key] = rng.choice([float("nan"), None, "x", 0.0, -1.0])
        op += f" {key}={tf[key]!r}"
    torch.save(state, path)
    return op


def mutate_table(rng, path):
    lines = open(path).read().splitlines()
    op = rng.choice(["dup", "epoch", "cell", "truncate", "bar"])
    if op == "dup":
        lines += lines[:7]
    elif op == "epoch":
        i = next(i for i, line in enumerate(lines) if "epoch_" in line)
        bad = rng.choice(["-50", "abc", "1e3", "", "007", "99999999999999999999"])
        lines[i] = lines[i].replace(lines[i].split("|")[1].strip(), f"epoch_{bad}")
        op += f" {bad}"
    elif op == "cell":
        i = rng.randrange(len(lines))
        lines[i] = lines[i].replace("0.", rng.choice(["x", "nan", "inf", "|", "-1e999"]), 1)
    elif op == "truncate":
        lines = lines[: rng.randrange(len(lines))]
    else:
        i = rng.randrange(len(lines))
        lines.insert(i, rng.choice(["| a | b |", "+--+", "|", "| epoch_5 |"]))
    open(path, "w").write("\n".join(lines) + "\n")
    return op


def mutate_tree(rng, base, info):
    """Links and odd folders instead of file contents."""
    run = os.path.join(base, info["run"])
    op = rng.choice(["link_results", "link_table", "link_latest_ckpt", "deep", "dir_for_file", "link_args"])
    outside = os.path.join(base, "outside.json")
    if op == "link_results":
        shutil.copy(os.path.join(run, "results.json"), outside)
        os.unlink(os.path.join(run, "results.json"))
        os.symlink(outside, os.path.join(run, "results.json"))
    elif op == "link_table":
        pub = os.path.join(base, "published", "001_trans")
        r = os.path.join(pub, sorted(os.listdir(pub))[0])
        shutil.copy(os.path.join(r, "res_table.md"), os.path.join(base, "outside.md"))
        os.unlink(os.path.join(r, "res_table.md"))
        os.symlink(os.path.join(base, "outside.md"), os.path.join(r, "res_table.md"))
    elif op == "link_latest_ckpt":
        latest = json.load(open(os.path.join(run, "ckpt", "latest.json")))
        src = os.path.join(run, "ckpt", latest["file"])
        shutil.move(src, os.path.join(base, "outside.pth"))
        os.symlink(os.path.join(base, "outside.pth"), src)
    elif op == "deep":
        d = os.path.join(base, "published", "001_trans")
        for _ in range(1100):  # os.makedirs recurses: one level at a time
            d = os.path.join(d, "d")
            os.mkdir(d)
    elif op == "dir_for_file":
        name = rng.choice(["results.json", "args.json", os.path.join("ckpt", "latest.json")])
        p = os.path.join(run, name)
        os.unlink(p)
        os.makedirs(p)
        op += f" {name}"
    else:
        shutil.copy(os.path.join(run, "args.json"), outside)
        os.unlink(os.path.join(run, "args.json"))
        os.symlink(outside, os.path.join(run, "args.json"))
    return op


# ---- one mutant --------------------------------------------------------------------------------------

def commands(kind, info, base, out):
    run, sweep, data = os.path.join(base, info["run"]), os.path.join(base, info["sweep"]), info["data"]
    latest = os.path.join(run, "ckpt", json.load(open(os.path.join(info["base"], info["run"], "ckpt", "latest.json")))["file"])
    main, runpy = os.path.join(ROOT, "main.py"), os.path.join(ROOT, "run.py")
    summ = [os.path.join(ROOT, "summarize.py")]
    allowed_run = [run]
    cmds = {
        "args": [([main, "--resume", run], allowed_run), (summ + [os.path.join(base, "log")], [])],
        "latest": [([main, "--resume", run], allowed_run)],
        "results": [([main, "--resume", run], allowed_run), (summ + [os.path.join(base, "log")], [])],
        "ckpt": [([main, "--resume", run], allowed_run),
                 ([main, "--eval_ckpt", latest, "--input_path", data, "--save_dir", out], [out])],
        "tree_ckpt": [([main, "--eval_ckpt", os.path.join(base, "log"), "--input_path", data, "--save_dir", out],
                       [out])],
        "sweep": [([runpy, "--resume", sweep, "--gpus", ""], [sweep]), (summ + [sweep], [])],
        "jobs": [([runpy, "--status", sweep], [])],
        "table": [(summ + [os.path.join(base, "published")], [])],
        "tree": [([main, "--resume", run], allowed_run), (summ + [base], []),
                 ([main, "--eval_ckpt", os.path.join(base, "log"), "--input_path", data, "--save_dir", out], [out])],
    }
    return cmds[kind]


def target(kind, info, base, rng):
    run, sweep = os.path.join(base, info["run"]), os.path.join(base, info["sweep"])
    if kind == "args":
        return mutate_json(rng, os.path.join(run, "args.json"))
    if kind == "latest":
        return mutate_json(rng, os.path.join(run, "ckpt", "latest.json"))
    if kind == "results":
        return mutate_json(rng, os.path.join(run, "results.json"))
    if kind in ("ckpt", "tree_ckpt"):
        latest = json.load(open(os.path.join(run, "ckpt", "latest.json")))["file"]
        if kind == "tree_ckpt":
            latest = sorted(f for f in os.listdir(os.path.join(run, "ckpt")) if f.endswith(".pth"))[-1]
        return mutate_checkpoint(rng, os.path.join(run, "ckpt", latest))
    if kind == "sweep":
        return mutate_json(rng, os.path.join(sweep, "sweep.json"))
    if kind == "jobs":
        name = rng.choice(["jobs.json", os.path.join("jobs", "sym_power.json")])
        return name + ": " + mutate_json(rng, os.path.join(sweep, name))
    if kind == "table":
        pub = os.path.join(base, "published", "001_trans")
        return mutate_table(rng, os.path.join(pub, sorted(os.listdir(pub))[rng.randrange(2)], "res_table.md"))
    return mutate_tree(rng, base, info)


def judge(p, is_main, before, after, allowed):
    problems = []
    if "Traceback" in p.stderr or "Traceback" in p.stdout:
        problems.append("traceback: " + p.stderr.strip().splitlines()[-1][:160])
    ok_rc = (0, 2) if is_main else (0, 1, 2)
    if p.returncode not in ok_rc:
        problems.append(f"exit {p.returncode}")
    if p.returncode == 2:
        errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
        if len(errors) != 1:
            problems.append(f"{len(errors)} error lines")
    created = [f for f in after - before if not any(f == a or f.startswith(a + os.sep) for a in allowed)]
    if created:
        problems.append(f"created outside: {created[0]}")
    return problems


def main(argv=None):
    global ROOT
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--out", default="/tmp/fuzz_inputs")
    ap.add_argument("--root", default=ROOT, help="the project tree to run (e.g. an older commit's, to compare)")
    ap.add_argument("--kinds", default="args,latest,results,ckpt,tree_ckpt,sweep,jobs,table,tree")
    args = ap.parse_args(argv)
    ROOT = os.path.abspath(args.root)
    sys.path.insert(0, HERE)
    rng = random.Random(args.seed)
    subprocess.run(["rm", "-rf", args.out])
    base0 = os.path.join(args.out, "base")
    os.makedirs(base0)
    info = make_base(base0)
    info["base"] = base0
    kinds = args.kinds.split(",")
    flagged, t0 = [], time.time()
    for i in range(args.n):
        kind = kinds[i % len(kinds)]
        root = os.path.join(args.out, f"m{i:03d}")
        base = os.path.join(root, "base")
        shutil.copytree(base0, base, symlinks=True)
        info_i = {**info, "data": os.path.join(base, "data")}
        # sweep.json / jobs.json name absolute paths under the base: point them at this copy
        for name in ("sweep.json", "jobs.json"):
            p = os.path.join(base, info["sweep"], name)
            text = open(p).read().replace(base0, base)
            open(p, "w").write(text)
        op = target(kind, info_i, base, rng)
        for cmd, allowed in commands(kind, info_i, base, os.path.join(root, "out")):
            before = files_under(root)
            p, wall = py(cmd, cwd=root)
            after = files_under(root)
            allowed = [os.path.realpath(a) for a in allowed] + [a for a in allowed]
            problems = judge(p, cmd[0].endswith("main.py"), before, after, allowed)
            label = f"m{i:03d} {kind} [{op}] {os.path.basename(cmd[0]) if cmd[0] != '-m' else 'summarize'} " \
                    f"{cmd[1] if cmd[0].endswith('.py') else ''}"
            if problems:
                flagged.append((label, problems))
                print(f"FLAG {label}: {'; '.join(problems)}", flush=True)
            else:
                print(f"ok   {label} (exit {p.returncode}, {wall:.1f} s)", flush=True)
        subprocess.run(["rm", "-rf", root])
    print(f"{args.n} mutants, {len(flagged)} flagged command(s), {time.time() - t0:.0f} s")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
