"""Loading checkpoints without running code.

Every load is torch.load(weights_only=True): only tensors and plain Python types are rebuilt, so a
checkpoint crafted to run code on load is refused instead. The reference's own format pickles an
argparse.Namespace under "args"; with --trust_checkpoint that one class (and nothing else) is
allowed, still under weights_only=True.
"""
import argparse
import os
import pickle

import torch

from util.io import InputError


def load_checkpoint(path, trust=False):
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such checkpoint file")
    allowed = [argparse.Namespace] if trust else []
    try:
        with torch.serialization.safe_globals(allowed):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e)
        if "argparse.Namespace" in msg and not trust:
            raise InputError(f"{path}: reference-format checkpoint (its args are a pickled argparse.Namespace); "
                             f"pass --trust_checkpoint to load it with only that class allowed")
        culprit = next((w.strip("`'\". ") for line in msg.splitlines() if "GLOBAL" in line for w in line.split()
                        if "." in w and not w.startswith("GLOBAL")), "")
        raise InputError(f"{path}: refused: it holds objects other than tensors and plain types"
                         + (f" ({culprit})" if culprit else ""))
    except Exception as e:
        raise InputError(f"{path}: not a readable checkpoint ({type(e).__name__})")
    if not isinstance(state, dict) or "model" not in state:
        raise InputError(f"{path}: not a checkpoint of this project or the reference (no 'model' entry)")
    return state
