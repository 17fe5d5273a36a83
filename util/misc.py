"""Seeding, run folders and small helpers. torch is imported where it is used: run.py names run
folders without loading it."""
import datetime
import os
import random
import secrets
import string

import numpy as np

from util.errors import OptionError


def fix_seed(seed):
    """Seed every generator once per process and ask for deterministic kernels, as the reference (warn_only:
    an op without a deterministic kernel warns instead of stopping a long run)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, full-size workspace
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)


def rng_state():
    """All generator states as tensors and plain types (loadable with weights_only=True)."""
    import torch

    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": random.getstate(),
    }


def set_rng_state(state):
    import torch

    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    random.setstate(state["python"])


def cur_time():
    return datetime.datetime.now().strftime("%Y-%m-%d-%H:%M:%S")


def run_folder_name(save_dir, up_folder_name, tag):
    """<save_dir>/<up_folder_name>/<tag>_<yymmdd-hhmmss>_<random> (not created): short for TensorBoard's
    legends, a set's seeds together by name, no ':' (a separator on some systems), no seeded generator used."""
    suffix = "".join(secrets.choice(string.ascii_lowercase) for _ in range(4))
    stamp = datetime.datetime.now().strftime("%y%m%d-%H%M%S")
    return os.path.join(save_dir, up_folder_name, f"{tag}_{stamp}_{suffix}")


def new_run_folder(save_dir, up_folder_name, tag):
    """A run folder created exclusively: two runs started in the same second never share one."""
    while True:
        folder = run_folder_name(save_dir, up_folder_name, tag)
        try:
            os.makedirs(folder)
            return folder
        except FileExistsError:
            continue


def resolve_device(name):
    import torch

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise OptionError(f"--device {name!r}: expected cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise OptionError(f"--device {name}: this project runs on cpu or cuda")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise OptionError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise OptionError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev
