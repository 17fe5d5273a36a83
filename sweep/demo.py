"""The demo ("000"): SIREN + sym_power on DIV2K image 00, sized to the machine it runs on: the paper's
512 x 512 and 5000 epochs with a GPU (or --full), else a 128 x 128 downscale and 1000 epochs (2 min 16 s
on two cores, measured). Without the data it fits scikit-image's astronaut.
"""
import os
import sys

import imageio.v2 as imageio
import numpy as np

from util.errors import InputError
from util.readers import read_args, read_results
from util.tensorboard import tensorboard_command

DEMO_IMAGE = "data/div2k/test_data/00.png"
CPU_SIZE, CPU_EPOCHS, CPU_LOG_EPOCH = 128, 1000, 250


def demo_profile(args, gpus, save_dir):
    """The demo's input and options; a downscaled input is written under save_dir (the runs' own)."""
    folder = os.path.join(save_dir, "000_demo", "demo_input")
    if os.path.isfile(DEMO_IMAGE):
        img, name = imageio.imread(DEMO_IMAGE), "00"
    else:
        from skimage import data

        print(f"note: {DEMO_IMAGE} is absent (python data/download.py div2k_test fetches it); "
              f"fitting scikit-image's astronaut instead", file=sys.stderr)
        img, name = data.astronaut(), "astronaut"
    options = []
    if not gpus and not args.full:
        from skimage.transform import resize

        print(f"note: no GPU, so the demo runs its CPU profile: {CPU_SIZE}x{CPU_SIZE} downscale, {CPU_EPOCHS} epochs "
              f"(minutes on 2 CPU cores, tens of minutes when they are busy; a progress line with an ETA every 20 s). "
              f"`python run.py --full` runs the paper's 512x512, 5000 epochs.", file=sys.stderr)
        img = resize(img, (CPU_SIZE, CPU_SIZE), anti_aliasing=True, preserve_range=True).round().astype(np.uint8)
        name = f"{name}_{CPU_SIZE}px"
        options = ["--num_epochs", str(CPU_EPOCHS), "--log_epoch", str(CPU_LOG_EPOCH)]
    elif name == "00":
        return {"input_path": DEMO_IMAGE, "options": options}
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.png")
    imageio.imwrite(path, img)
    return {"input_path": path, "options": options}


def demo_summary(task):
    if task.rc != 0 or not task.folder:
        return
    try:
        res = read_results(os.path.join(task.folder, "results.json"))
        command = tensorboard_command(task.folder, [read_args(task.folder)])
    except InputError:
        return
    if not res["mean"]:
        return
    last = max(res["mean"], key=int)
    m = res["mean"][last]

    def fmt(v, spec):
        return "n/a" if v is None else format(v, spec)

    print(f"\nDemo finished: {task.folder}")
    print(f"  epoch {last}: PSNR {fmt(m.get('psnr'), '.2f')} dB, SSIM {fmt(m.get('ssim'), '.4f')} "
          f"(Table 1's variant: {fmt(m.get('ssim_ref'), '.4f')})")
    print(f"  reconstruction: {os.path.join(task.folder, 'final_pred')}")
    print(f"  {command}")
