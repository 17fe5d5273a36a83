"""Peak memory of what a fit does besides the model, per value (pixel x channel) of an image.

    python benchmarks/eval_memory.py ssim --size 2048

Builds a random size x size RGB image and a noisy reconstruction, then runs one part (psnr, ssim,
ssim_ref, media: the TensorBoard pictures, hist: the transform's TensorBoard histogram, tf: the
sym_power fit, attr: Table 1's attributes, save: the PNG writer) and prints its peak resident memory
above what the process held before, in bytes per value (docs/memory.md).
"""
import argparse
import os
import resource
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("part", choices=["psnr", "ssim", "ssim_ref", "media", "hist", "tf", "attr", "save"])
    ap.add_argument("--size", type=int, default=2048)
    a = ap.parse_args()

    import torch
    from torch.utils.tensorboard import SummaryWriter

    from components import metrics
    from components import transform as T
    from components.signals import Signal, modality
    from opt import row_options
    from trainer.memory import resident_bytes
    from util.io import Nominal, save_image

    torch.manual_seed(0)
    data = torch.rand(3, a.size, a.size) * 255
    recon = (data + torch.randn_like(data) * 5).clamp(0, 255)
    nominal = Nominal(0, 255, 256)
    folder = tempfile.mkdtemp(prefix="eval_memory_")
    writer = SummaryWriter(folder)
    parts = {"psnr": lambda: metrics.psnr(recon, data), "ssim": lambda: metrics.ssim(recon, data),
             "ssim_ref": lambda: metrics.ssim_ref(recon, data),
             "media": lambda: modality("image").io.log_media(writer, Signal("x", data, nominal), 1, recon, data),
             "hist": lambda: writer.add_histogram("x", data.flatten(), 0, bins=256),
             "tf": lambda: T.build(row_options("sym_power"), 256).fit(data), "attr": lambda: T.attributes(data),
             "save": lambda: save_image(os.path.join(folder, "x.png"), recon, nominal)}
    before = resident_bytes(torch.device("cpu"))
    parts[a.part]()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{a.part} {a.size}x{a.size}x3: {(peak - before) / data.numel():.1f} bytes per value above the process's "
          f"{before / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
