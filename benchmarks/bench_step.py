"""Time the training step: this project's (the one main.py runs) against a plain eager step doing
what the published implementation does each step, and against the step's matrix products alone.

    python benchmarks/bench_step.py --size 64 --threads 1
    python benchmarks/bench_step.py --size 512 --threads 2 --steps 10
    python benchmarks/bench_step.py --size 512 --device cuda --steps 200
    python benchmarks/bench_step.py --size 512 --threads 2 --configs project,project_chunked --repeat 3
    python benchmarks/bench_step.py --size 512 --threads 2 --configs chunked_ab --steps 20

One JSON line per configuration (project, project_chunked, published, matmul; on a GPU also the experimental
graph, compiled and compiled_max): median ms per step, the ratio to
the products alone and to the published step, achieved GFLOP/s of the products, peak memory
(resident set on CPU, allocator peak on GPU) and warm-up time. Each step configuration runs in a
child process so its peak memory is its own. project_chunked is the project's step in chunks of
--chunk_rows rows (main.py's --chunk_rows: the same full-batch step in bounded memory); with --repeat N
the configurations run N times in turn (interleaved: A B A B ...), and each line gives the median over
the repetitions' medians, with the ratio to project. chunked_ab runs both in one process, alternating
step by step, and prints the ratio of the medians and the median of the per-pair ratios: the fairest
comparison on a loaded machine.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _image(size):
    """DIV2K 00 resized when ../shared has it, else scikit-image's astronaut: a real picture."""
    import numpy as np
    import torch
    from skimage import data
    from skimage.transform import resize

    path = os.path.join(ROOT, "..", "shared", "data", "div2k", "test_data", "00.png")
    if os.path.isfile(path):
        import imageio.v2 as imageio
        img = imageio.imread(path)
    else:
        img = data.astronaut()
    if img.shape[0] != size:
        img = resize(img, (size, size), anti_aliasing=True, preserve_range=True).round().astype(np.uint8)
    return torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1).contiguous()


def _setup(args, device):
    import torch

    from components import transform as T
    from models import build_model
    from opt import row_options
    from trainer.loop import grid_coords

    torch.manual_seed(3407)
    img = _image(args.size)
    tf = T.build(row_options(args.transform), 256).fit(img)
    c, h, w = img.shape
    coords = grid_coords((h, w)).to(device)
    gt = tf.forward(img).reshape(c, -1).T.contiguous().to(device)
    ref = img.reshape(c, -1).T.contiguous().to(device)
    opts = {"model_type": args.model, "hidden_features": 256, "hidden_layers": 3, "first_omega": 30.0,
            "hidden_omega": 30.0, "scale": 30.0, "N_freqs": 10, "first_bias_scale": None, "scale_req_grad": False}
    model = build_model(opts, 2, c).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    total = args.steps + args.warmup
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 0.1 ** min(it / total, 1))
    return img.to(device), tf, coords, gt, ref, model, optimizer, scheduler


def _schedule(optimizer, args):
    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 0.1 ** min(it / (args.steps + args.warmup), 1))


def _buffered(writer, one_step):
    """A step function that buffers [loss, psnr] and writes them every 100 steps, as the training loop does."""
    import torch

    from trainer.loop import write_step_scalars

    scalars = []

    def one(i):
        scalars.append(torch.stack(one_step()))
        if len(scalars) == 100:
            write_step_scalars(writer, "bench", scalars, i)

    return one


def _project_one(args, s):
    """The loop body of Trainer.fit for a non-log epoch, scalar buffering included."""
    from trainer import fast_step
    from trainer.loop import make_adam
    from trainer.fast_step import Kernels, Step

    if args.split_rows is not None:  # 0: ATen's one-pass x.sum(0) for the bias gradients
        fast_step.SPLIT_ROWS = args.split_rows if args.split_rows > 0 else 1 << 62
    optimizer = make_adam(s.model, 1e-4, fused=True)
    # The step of a fit that compiles its kernels (trainer.fast_step.compiles: Table 1's do); the benchmark always does.
    step = Step(s.model, optimizer, _schedule(optimizer, args), lambda p: s.tf.inverse(p).clamp(0, 255), s.ref.max(),
                kernels=Kernels(True, log=lambda m: print(m, file=sys.stderr)),
                chunk=args.chunk_rows if args.child == "project_chunked" else None)

    def one_step():
        pred, loss = step.forward_backward(s.coords, s.gt)
        psnr = step.psnr(pred, s.ref)
        step.update()
        return [loss, psnr]

    return _buffered(s.writer, one_step)


def _graph_one(args, s):
    """Experimental, GPU only: the project's step with its forward, backward and PSNR captured once in
    a CUDA graph and replayed (Adam and the schedule stay outside). It measures what removing the
    launches and their host work would give; main.py does not use it."""
    import torch
    import torch.nn.functional as F

    from trainer.loop import make_adam
    from trainer.fast_step import FusedSiren, Kernels

    peak = s.ref.max()
    optimizer = make_adam(s.model, 1e-4, fused=True)
    scheduler = _schedule(optimizer, args)
    fused = FusedSiren(s.model, Kernels(True, log=lambda m: print(m, file=sys.stderr)))

    def forward_backward():
        pred, loss = fused(s.coords, s.gt)
        return loss, 20 * torch.log10(peak / torch.sqrt(F.mse_loss(s.tf.inverse(pred).clamp(0, 255), s.ref)))

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # compile the kernels and settle allocations before capture
        for _ in range(3):
            forward_backward()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss, static_psnr = forward_backward()

    def one_step():
        graph.replay()
        optimizer.step()
        scheduler.step()
        return [static_loss, static_psnr]

    return _buffered(s.writer, one_step)


def _compiled_one(args, s):
    """Experimental, GPU: the plain autograd step with its forward, loss, PSNR and backward compiled by
    TorchInductor (default mode, or max-autotune, which tries Triton matrix products with the sine and
    cosine passes fused into their epilogues against cuBLAS). Fused Adam outside. main.py does not use it."""
    import torch
    import torch.nn.functional as F

    from trainer.loop import make_adam

    optimizer = make_adam(s.model, 1e-4, fused=True)
    scheduler = _schedule(optimizer, args)
    peak = s.ref.max()

    def forward_loss():  # AOTAutograd compiles the backward of this graph too
        pred = s.model(s.coords)
        psnr = 20 * torch.log10(peak / torch.sqrt(F.mse_loss(s.tf.inverse(pred.detach()).clamp(0, 255), s.ref)))
        return F.mse_loss(pred, s.gt), psnr

    mode = "max-autotune-no-cudagraphs" if args.child == "compiled_max" else None
    compiled = torch.compile(forward_loss, mode=mode, fullgraph=True)

    def one_step():
        optimizer.zero_grad(set_to_none=True)
        loss, psnr = compiled()
        loss.backward()
        optimizer.step()
        scheduler.step()
        return [loss.detach(), psnr]

    return _buffered(s.writer, one_step)


def _published_one(args, s):
    """What the published implementation does every step."""
    import torch
    import torch.nn.functional as F

    c, h, w = s.img.shape

    def one(i):
        pred = s.model(s.coords)
        recon = s.tf.inverse(pred.reshape(h, w, c).permute(2, 0, 1)).clamp(0, 255)
        mse = F.mse_loss(pred, s.gt)
        psnr = 20.0 * torch.log10(s.img.max() / torch.sqrt(F.mse_loss(recon, s.img)))
        loss = F.mse_loss(pred, s.gt)
        s.optimizer.zero_grad()
        loss.backward()
        s.optimizer.step()
        s.scheduler.step()
        s.writer.add_scalar("bench/train/total_loss", loss.detach().item(), global_step=i)
        s.writer.add_scalar("bench/train/psnr", psnr.detach().item(), global_step=i)
        s.writer.add_scalar("bench/train/mse", mse.detach().item(), global_step=i)

    return one


STEPS = {"project": _project_one, "project_chunked": _project_one, "graph": _graph_one, "compiled": _compiled_one,
         "compiled_max": _compiled_one, "published": _published_one}


def _time(one, args, device):
    """(median seconds per step, warm-up seconds) of `one` after args.warmup steps. On a GPU, steps are
    timed in blocks with one synchronisation each, as the training loop runs them (it never waits for
    the device between steps); on a CPU every step is timed alone."""
    import torch

    t0 = time.perf_counter()
    for i in range(args.warmup):
        one(i)
    _sync(device)
    warmup = time.perf_counter() - t0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    block = 10 if device.type == "cuda" else 1
    times = []
    for i in range(0, args.steps, block):
        t0 = time.perf_counter()
        for j in range(block):
            one(args.warmup + i + j)
        _sync(device)
        times.append((time.perf_counter() - t0) / block)
    return statistics.median(times), warmup


def child(args):
    import types

    import torch
    from torch.utils.tensorboard import SummaryWriter

    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.tf32  # fp32 unless --tf32
    device = torch.device(args.device)
    img, tf, coords, gt, ref, model, optimizer, scheduler = _setup(args, device)
    writer = SummaryWriter(tempfile.mkdtemp(prefix="bench_tb_"))
    if args.child == "chunked_ab":
        return _chunked_ab(args, model, tf, coords, gt, ref, writer)
    s = types.SimpleNamespace(img=img, tf=tf, coords=coords, gt=gt, ref=ref, model=model, optimizer=optimizer,
                              scheduler=scheduler, writer=writer)
    one = STEPS[args.child](args, s) if args.child in STEPS else _matmul_step(model, coords, device)
    peak_rate = _device_rate(device) if args.child == "matmul" else None
    ms, warmup = _time(one, args, device)
    writer.close()
    peak_mb = (torch.cuda.max_memory_allocated() / 2 ** 20 if device.type == "cuda"
               else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out = {"ms": ms * 1e3, "warmup_s": warmup, "peak_mb": peak_mb}
    if peak_rate is not None:
        out["device_fp32_gflops"] = peak_rate
    print(json.dumps(out), flush=True)
    if args.profile:
        _profile(one, args, device)


def _chunked_ab(args, model, tf, coords, gt, ref, writer):
    """The project's step, one pass (A) against chunks of --chunk_rows rows (B), on twin models in one
    process, alternating step by step (A B A B ...) so that the machine's load falls on both alike."""
    import copy

    import torch

    from trainer.loop import make_adam
    from trainer.fast_step import Kernels, Step

    kernels = Kernels(True, log=lambda m: print(m, file=sys.stderr))
    steps = {}
    for name, chunk in (("project", None), ("project_chunked", args.chunk_rows)):
        twin = copy.deepcopy(model)
        optimizer = make_adam(twin, 1e-4, fused=True)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0)
        steps[name] = Step(twin, optimizer, scheduler, lambda p: tf.inverse(p).clamp(0, 255), ref.max(),
                           kernels=kernels, chunk=chunk)
    times = {name: [] for name in steps}
    for i in range(args.warmup + args.steps):
        for name, step in steps.items():
            t0 = time.perf_counter()
            pred, loss = step.forward_backward(coords, gt)
            torch.stack([loss, step.psnr(pred, ref)])
            step.update()
            if i >= args.warmup:
                times[name].append(time.perf_counter() - t0)
    a, b = times["project"], times["project_chunked"]
    print(json.dumps({"config": "chunked_ab", "size": args.size, "threads": args.threads, "chunk_rows": args.chunk_rows,
                      "steps": args.steps, "ms_project": round(statistics.median(a) * 1e3, 1),
                      "ms_project_chunked": round(statistics.median(b) * 1e3, 1),
                      "ratio_of_medians": round(statistics.median(b) / statistics.median(a), 3),
                      "median_pair_ratio": round(statistics.median(y / x for x, y in zip(a, b)), 3)}), flush=True)


def _profile(one, args, device):
    """The kernels of `args.profile` more steps by total device (CPU: host) time, to standard error."""
    from torch.profiler import ProfilerActivity, profile

    cuda = device.type == "cuda"
    with profile(activities=[ProfilerActivity.CUDA if cuda else ProfilerActivity.CPU]) as prof:
        for i in range(args.profile):
            one(args.warmup + args.steps + i)
        _sync(device)
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=14, max_name_column_width=70), file=sys.stderr)


def _device_rate(device):
    """The device's fp32 matrix-product rate on a large square product (TF32 off), GFLOP/s."""
    import torch

    n = 8192 if device.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    c = torch.empty(n, n, device=device)
    for _ in range(2):
        torch.mm(a, b, out=c)
    _sync(device)
    reps, t0 = 5, time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b, out=c)
    _sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def _matmul_step(model, coords, device):
    """The step's matrix products alone (forward, weight gradients, input gradients), same shapes."""
    import torch

    n = coords.shape[0]
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    bufs = []
    for i, lin in enumerate(linears):
        out_f, in_f = lin.weight.shape
        x = coords if i == 0 else torch.randn(n, in_f, device=device)
        bufs.append((x, lin.weight.detach(), torch.empty(n, out_f, device=device), torch.randn(n, out_f, device=device),
                     torch.empty(n, in_f, device=device) if i > 0 else None))

    def one(i):
        for x, wt, out, g, gx in bufs:
            torch.mm(x, wt.t(), out=out)
            # the weight gradient, the narrow operand's transpose on the left (the fast order on the CPU)
            torch.mm(g.t(), x) if g.shape[1] <= x.shape[1] else torch.mm(x.t(), g)
            if gx is not None:
                torch.mm(g, wt, out=gx)

    return one


def matmul_flops(n, model_widths):
    flops = 0
    for i, (out_f, in_f) in enumerate(model_widths):
        flops += 2 * n * in_f * out_f * (3 if i > 0 else 2)
    return flops


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=64, help="image side (square)")
    ap.add_argument("--model", default="siren")
    ap.add_argument("--transform", default="sym_power")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--configs", default="matmul,published,project")
    ap.add_argument("--tf32", action="store_true", help="GPU: TF32 matrix products in every configuration")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="GPU: after timing, profile N more steps and print each configuration's top kernels")
    ap.add_argument("--split_rows", type=int, default=None,
                    help="project: rows per partial column sum of the bias gradients (0: one pass)")
    ap.add_argument("--chunk_rows", type=int, default=65536, help="project_chunked: rows per forward + backward pass")
    ap.add_argument("--repeat", type=int, default=1, help="run the configurations this many times, interleaved")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def run_configs(args):
    """{config: its children's JSON lines}, each configuration in a child process, args.repeat times in turn."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    runs = {}
    for _ in range(args.repeat):
        for cfg in args.configs.split(","):
            cmd = [sys.executable, os.path.abspath(__file__), "--child", cfg, "--size", str(args.size), "--model",
                   args.model, "--transform", args.transform, "--device", args.device, "--threads", str(args.threads),
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--profile", str(args.profile),
                   "--chunk_rows", str(args.chunk_rows)] + \
                (["--split_rows", str(args.split_rows)] if args.split_rows is not None else []) + \
                (["--tf32"] if args.tf32 else [])
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
            if args.profile and p.stderr:
                print(f"--- {cfg}\n{p.stderr}", file=sys.stderr)
            if p.returncode != 0:
                print(json.dumps({"config": cfg, "error": p.stderr.strip().splitlines()[-1:]}))
                continue
            runs.setdefault(cfg, []).append(json.loads(p.stdout.strip().splitlines()[-1]))
    return {cfg: {"ms": statistics.median(r["ms"] for r in rs), "peak_mb": max(r["peak_mb"] for r in rs),
                  "warmup_s": statistics.median(r["warmup_s"] for r in rs), "all_ms": [round(r["ms"], 1) for r in rs],
                  **({"device_fp32_gflops": rs[0]["device_fp32_gflops"]} if "device_fp32_gflops" in rs[0] else {})}
            for cfg, rs in runs.items()}


def report(args, res):
    """One JSON line per configuration, with its ratios to the others."""
    widths = [(256, 2), (256, 256), (256, 256), (256, 256), (3, 256)]
    flops = matmul_flops(args.size * args.size, widths) if args.model == "siren" else None
    device_name = args.device
    if args.device.startswith("cuda"):
        import torch
        device_name = torch.cuda.get_device_name(0)
    for cfg, r in res.items():
        line = {"config": cfg, "size": args.size, "model": args.model, "device": device_name, "threads": args.threads,
                "tf32": args.tf32,
                "ms_per_step": round(r["ms"], 3), "peak_mem_mb": round(r["peak_mb"], 1),
                "warmup_s": round(r["warmup_s"], 3)}
        if args.repeat > 1:
            line["ms_each_repeat"] = r["all_ms"]
        if cfg == "project_chunked":
            line["chunk_rows"] = args.chunk_rows
            if "project" in res:
                line["ratio_to_project"] = round(r["ms"] / res["project"]["ms"], 3)
        if "matmul" in res:
            line["ratio_to_matmul"] = round(r["ms"] / res["matmul"]["ms"], 3)
        if "published" in res and cfg != "matmul":
            line["speedup_vs_published"] = round(res["published"]["ms"] / r["ms"], 3)
        if flops:
            line["matmul_gflops"] = round(flops / (r["ms"] * 1e-3) / 1e9, 1)
            if "matmul" in res and "device_fp32_gflops" in res["matmul"]:
                rate = res["matmul"]["device_fp32_gflops"]
                line["device_fp32_gflops"] = round(rate, 1)
                line["fraction_of_device_rate"] = round(line["matmul_gflops"] / rate, 3)
        print(json.dumps(line), flush=True)


def main():
    args = parse()
    if args.child:
        return child(args)
    if args.configs == "chunked_ab":  # one process, the two steps alternating: its own line
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "chunked_ab", "--size", str(args.size), "--device",
               args.device, "--threads", str(args.threads), "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--chunk_rows", str(args.chunk_rows)]
        p = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)), capture_output=True,
                           text=True, cwd=ROOT)
        print(p.stdout.strip().splitlines()[-1] if p.returncode == 0 else json.dumps({"error": p.stderr[-500:]}))
        return
    report(args, run_configs(args))


if __name__ == "__main__":
    main()
