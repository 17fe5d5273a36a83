"""Measure the constants of trainer/memory.py's estimate: the training step's bytes per row for each
backbone (STEP_BYTES) and the log-epoch metrics' and media's bytes per value (EVAL_BYTES).

    python benchmarks/calibrate_memory.py --calibrate   # prints them as JSON; paste into trainer/memory.py

Each point runs in a fresh process (peak resident memory is per process); the step's bytes per row
are the difference between two row counts, so what the interpreter and torch hold cancels out.
"""
import argparse
import json
import os
import resource
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from trainer.memory import STEP_BYTES, resident_bytes  # noqa: E402  (after the path: run as a script)

CALIBRATION_ROWS = (65536, 131072)
CALIBRATION_SIDE = 2048  # above metrics.SSIM_BAND_PIXELS: SSIM in bands


def _peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def _child_step(key, rows):
    import torch

    from models import build_model
    from trainer.loop import make_adam
    from trainer.fast_step import Kernels, Step

    torch.manual_seed(0)
    model_type = "siren" if key == "siren_fused" else key
    opts = {"model_type": model_type, "hidden_features": 256, "hidden_layers": 3, "first_omega": 30.0,
            "hidden_omega": 30.0, "scale": 30.0, "N_freqs": 10, "first_bias_scale": None, "scale_req_grad": False}
    model = build_model(opts, 2, 3)
    fused = key == "siren_fused"
    optimizer = make_adam(model, 1e-4, fused=fused)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0)
    coords, gt = torch.rand(rows, 2) * 2 - 1, torch.rand(rows, 3)
    step = Step(model, optimizer, scheduler, lambda p: p, gt.max(), eager=not fused, kernels=Kernels(False))
    for _ in range(3):
        pred, loss = step.forward_backward(coords, gt)
        step.psnr(pred, gt)
        step.update()
    return _peak_rss()


def _child_eval(side):
    """Peak bytes above what the process held before, per value, of an image's metrics and media."""
    import tempfile

    import torch
    from torch.utils.tensorboard import SummaryWriter

    from components.metrics import image_metrics
    from components.signals import Signal, modality
    from util.io import Nominal

    data = torch.rand(3, side, side) * 255
    recon = (data + torch.randn_like(data) * 5).clamp(0, 255)
    signal = Signal("x", data, Nominal(0, 255, 256))
    writer = SummaryWriter(tempfile.mkdtemp(prefix="calib_tb_"))
    before = resident_bytes(torch.device("cpu"))
    image_metrics(recon, data, 255.0)
    modality("image").io.log_media(writer, signal, 1, recon, data)
    writer.close()
    return (_peak_rss() - before) / data.numel()


def calibrate():
    """Measure STEP_BYTES and EVAL_BYTES (one fresh process per point); print them as JSON."""
    def run(*args):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), *map(str, args)], capture_output=True,
                             text=True, check=True, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))
        return float(out.stdout.split()[-1])

    n1, n2 = CALIBRATION_ROWS
    units = 256 * 4
    step = {}
    for key in STEP_BYTES:
        step[key] = round((run("--child_step", key, n2) - run("--child_step", key, n1)) / (n2 - n1) / units, 2)
    evaluation = round(run("--child_eval", CALIBRATION_SIDE), 2)
    print(json.dumps({"STEP_BYTES": step, "EVAL_BYTES": evaluation}))


def main():
    ap = argparse.ArgumentParser(prog="python benchmarks/calibrate_memory.py", description="Measure the memory estimate's constants.")
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--child_step", nargs=2, metavar=("KEY", "ROWS"), help=argparse.SUPPRESS)
    ap.add_argument("--child_eval", type=int, metavar="SIDE", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_step:
        print(_child_step(a.child_step[0], int(a.child_step[1])))
    elif a.child_eval:
        print(_child_eval(a.child_eval))
    elif a.calibrate:
        calibrate()
    else:
        ap.print_help()


if __name__ == "__main__":
    main()
