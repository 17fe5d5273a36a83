"""Checkpoints: the format, saving, safe loading, the latest one of a run, pruning. Decoding them
into signals is trainer/decode.py.

This project's format holds tensors and plain types only: the model, optimizer and scheduler state,
the options as a dict, the fitted transform parameters, the data shape and range, the generator
states and the metrics so far, so it resumes a run exactly and decodes alone. Every load is
torch.load(weights_only=True): a checkpoint crafted to run code on load is refused. The reference's
format pickles an argparse.Namespace under "args"; with --trust_checkpoint that one class (and
nothing else) is allowed, still under weights_only=True, and its transform is refitted from
--input_path, as the reference would do.
"""
import argparse
import glob
import json
import os
import pickle

import torch

from util.errors import InputError
from util.io import torch_save, write_json
from util.misc import cur_time, rng_state

FORMAT = "symtrans-inr/1"


def save(folder, epoch, sample, fit, opts, recorder, log):
    """Write the checkpoint of `sample` (a trainer Sample) after `epoch`, point ckpt/latest.json at it
    and prune the sample's older snapshots."""
    signal, tf = sample.signal, sample.tf
    state = {
        "format": FORMAT,
        "epoch": epoch,
        "sample": signal.name,
        "model": fit.model.state_dict(),
        "optimizer": fit.optimizer.state_dict(),
        "scheduler": fit.scheduler.state_dict(),
        "args": dict(opts),
        "transform": {"name": tf.name, "params": tf.params},
        "prepare": {"inverse": bool(opts.get("inverse")), "perm": sample.perm},
        "signal": {"type": opts["signal_type"], "shape": list(signal.data.shape),
                   "nominal": signal.nominal.as_dict(), "meta": signal.meta},
        "rng": rng_state(),
        "recorder": recorder.state(),
    }
    ckpt_dir = os.path.join(folder, "ckpt")
    fname = f"ckpt_{signal.name}_{epoch}_{cur_time()}.pth"
    torch_save(os.path.join(ckpt_dir, fname), state)
    write_json(os.path.join(ckpt_dir, "latest.json"), {"file": fname, "sample": signal.name, "epoch": epoch})
    prune(ckpt_dir, signal.name, final_epoch=opts["num_epochs"])
    log(f"[{signal.name}] checkpoint {fname}")


def prune(ckpt_dir, name, final_epoch, keep=2):
    """Keep the last `keep` snapshots of this sample; a sample's final checkpoint always stays."""
    files = glob.glob(os.path.join(glob.escape(ckpt_dir), f"ckpt_{glob.escape(name)}_*.pth"))

    def epoch_of(f):
        try:
            return int(os.path.basename(f)[len(f"ckpt_{name}_"):].split("_")[0])
        except ValueError:
            return -1

    snaps = sorted((f for f in files if epoch_of(f) != final_epoch), key=os.path.getmtime)
    for f in snaps[:-keep]:
        os.unlink(f)


def load(path, trust=False):
    """A checkpoint's dict, loaded without running code; InputError names what is wrong."""
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
    except Exception as e:  # a truncated or foreign file fails in many ways inside torch.load
        raise InputError(f"{path}: not a readable checkpoint ({type(e).__name__})")
    if not isinstance(state, dict) or "model" not in state:
        raise InputError(f"{path}: not a checkpoint of this project or the reference (no 'model' entry)")
    return state


def latest(run_dir):
    """The run's latest checkpoint (ckpt/latest.json), loaded; None if it has none yet."""
    pointer = os.path.join(run_dir, "ckpt", "latest.json")
    if not os.path.isfile(pointer):
        return None
    with open(pointer) as f:
        fname = json.load(f)["file"]
    return load(os.path.join(run_dir, "ckpt", fname))
