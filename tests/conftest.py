"""Shared fixtures: where ../shared lives, small images made on the fly, and a main.py runner."""
import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"  # values computed with the published code, committed
SHARED_DATA = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared")) / "data"
DOWNLOAD = {"div2k": "div2k_test", "libri_test_clean_121726": "libri", "text": "text", "Kodak": "kodak"}


def dataset(rel):
    """A dataset file or folder (e.g. "div2k/test_data/00.png"): data/ when downloaded, else ../shared/data,
    else skip naming the command that downloads it."""
    for root in (ROOT / "data", SHARED_DATA):
        if (root / rel).exists():
            return root / rel
    name = DOWNLOAD.get(Path(rel).parts[0], "--help")
    pytest.skip(f"{rel} is absent: python data/download.py {name}")


def load_json(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def div2k_64px(tmp_path_factory):
    """DIV2K test images 00 and 01 at 64x64, made as the reference's 64 px files were (scikit-image
    resize with anti-aliasing, range preserved, rounded): name -> path."""
    from skimage.transform import resize

    folder = tmp_path_factory.mktemp("div2k_64px")
    out = {}
    for name in ("00", "01"):
        img = imageio.imread(dataset(f"div2k/test_data/{name}.png"))
        small = resize(img, (64, 64), anti_aliasing=True, preserve_range=True).round().astype(np.uint8)
        imageio.imwrite(folder / f"{name}.png", small)
        out[name] = folder / f"{name}.png"
    return out


def run_py(*args, cwd=ROOT, env=None, timeout=600, check=False):
    """Run a project entry point as a user would; returns CompletedProcess with text output."""
    e = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), PYTHONUNBUFFERED="1")
    e.update(env or {})
    p = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=e, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def smooth_image(h, w, c=3, dtype=np.uint8, seed=0):
    """A smooth test picture with texture, in the full range of its type."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [np.sin(3 * x + k) * np.cos(2 * y - k) + 0.3 * rng.standard_normal((h, w)) * 0.1 for k in range(c)]
    img = np.stack(chans, -1)
    img = (img - img.min()) / (img.max() - img.min())
    top = np.iinfo(dtype).max
    out = (img * top).round().astype(dtype)
    return out[:, :, 0] if c == 1 else out


def write_png(path, arr):
    """PNG of any bit depth (Pillow cannot write 16-bit colour)."""
    from util.io import _write_png16

    if arr.dtype == np.uint16:
        with open(path, "wb") as f:
            _write_png16(f, arr)
    else:
        imageio.imwrite(path, arr)
    return path


@pytest.fixture
def tiny_png(tmp_path):
    p = tmp_path / "00.png"
    imageio.imwrite(p, smooth_image(16, 16))
    return p


@pytest.fixture
def fast_args(tmp_path):
    """Options for a quick CPU fit that still exercises logging and checkpoints."""
    return ["--save_dir", tmp_path / "log", "--num_epochs", "20", "--log_epoch", "10", "--hidden_features", "32",
            "--hidden_layers", "1", "--quiet", "--device", "cpu"]


def run_folder(save_dir):
    runs = [p for p in Path(save_dir).rglob("args.json")]
    assert len(runs) == 1, runs
    return runs[0].parent
