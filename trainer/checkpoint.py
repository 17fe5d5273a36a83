"""Checkpoints: the format, saving, safe loading, the latest one of a run, pruning. Tensors and plain
types only, loaded with weights_only=True, so a crafted file cannot run code; the reference's pickled
argparse.Namespace is allowed with --trust_checkpoint, and nothing else.
"""
import glob
import os

import torch

from models import build_model
from opt import ROLE
from util.errors import InputError
from util.io import torch_save, write_json
from util.misc import cur_time, rng_state, set_rng_state
from util.readers import FORMAT, is_int, is_number, read_checkpoint, read_latest


def save(folder, epoch, sample, fit, opts, recorder, log):
    """`sample`'s checkpoint after `epoch`, pointed at by ckpt/latest.json; its older snapshots pruned."""
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
    """A checkpoint's dict, loaded without running code and checked (util/readers.py)."""
    return read_checkpoint(path, trust)


def latest(run_dir):
    """The run's latest checkpoint (ckpt/latest.json's, in its ckpt/), loaded; None if it has none yet."""
    pointer = read_latest(run_dir)
    if pointer is None:
        return None
    state = load(pointer.path)
    if state.get("format") != FORMAT:
        raise InputError(f"{pointer.path}: not this project's checkpoint format; a run resumes only from its own")
    if (state["sample"], state["epoch"]) != (pointer.sample, pointer.epoch):
        raise InputError(f"{pointer.path}: holds sample {state['sample']} epoch {state['epoch']}, but latest.json "
                         f"says {pointer.sample} epoch {pointer.epoch}")
    return state


def check_model(path, weights, model):
    """The checkpoint's weights against the model's: the same names, shapes and dtypes, all finite."""
    want = model.state_dict()
    missing, extra = [k for k in want if k not in weights], [str(k)[:40] for k in weights if k not in want]
    if missing or extra:
        parts = [f"{what} {', '.join(ks[:3])}" for what, ks in (("missing", missing), ("unexpected", extra)) if ks]
        raise InputError(f"{path}: its weights do not fit this model ({'; '.join(parts)})")
    for k, t in want.items():
        w = weights[k]
        if tuple(w.shape) != tuple(t.shape):
            raise InputError(f"{path}: {k} has shape {list(w.shape)}, this model's is {list(t.shape)}")
        if w.dtype != t.dtype:
            raise InputError(f"{path}: {k} is {w.dtype}, this model's is {t.dtype}")
        if not torch.isfinite(w).all():
            raise InputError(f"{path}: {k} holds NaN or infinite values")


def check_optimizer(path, opt_state, params):
    """Adam's saved state against the parameters it updates: one group over all of them, moments of
    their shapes and dtypes, finite."""
    groups = opt_state["param_groups"]
    ids = [i for g in groups if isinstance(g, dict) for i in (g.get("params") or [])]
    if len(groups) != 1 or ids != list(range(len(params))) or not is_number(groups[0].get("lr")):
        raise InputError(f"{path}: its optimizer state is not one group over this model's {len(params)} parameters")
    for i, st in opt_state["state"].items():
        if not is_int(i, 0, len(params) - 1) or not isinstance(st, dict):
            raise InputError(f"{path}: its optimizer state names parameter {str(i)[:20]}, which this model lacks")
        for k in ("exp_avg", "exp_avg_sq"):
            m = st.get(k)
            if not isinstance(m, torch.Tensor) or m.shape != params[i].shape or m.dtype != params[i].dtype \
                    or not torch.isfinite(m).all():
                raise InputError(f"{path}: optimizer {k} of parameter {i} does not fit it (shape, type or NaN)")
        step = st.get("step")
        if not (is_number(step) or isinstance(step, torch.Tensor) and step.numel() == 1 and torch.isfinite(step).all()):
            raise InputError(f"{path}: optimizer step count of parameter {i} is not a number")


def check_data(source, signal, state):
    """A signal read from `source` against the one `state` was fitted on: the same shape and nominal range."""
    shape, nominal = state["signal"]["shape"], state["signal"]["nominal"]
    if list(signal.data.shape) != shape:
        raise InputError(f"{source}: shape {list(signal.data.shape)} (channels first) differs from the {shape} "
                         f"the checkpoint was fitted on; give the same data")
    if signal.nominal.as_dict() != nominal:
        raise InputError(f"{source}: value range {signal.nominal.as_dict()} differs from the {nominal} the "
                         f"checkpoint was fitted on; give the same data")


def check_resume(run_dir, state, args, signals, samples):
    """A run's latest checkpoint against what it resumes on, before any state is touched: its sample, data,
    epoch and options (resolved: one an older checkpoint left None is derived now) those of the run, its
    weights and optimizer state fitting the model the run's options build."""
    where = f"{run_dir}: its latest checkpoint"
    names = {signals.sample_name(p): p for p in samples}
    if state["sample"] not in names:
        raise InputError(f"{where} is of sample {state['sample']}, which {args.input_path} no longer holds")
    if state["epoch"] > args.num_epochs:
        raise InputError(f"{where} is at epoch {state['epoch']}, beyond the run's {args.num_epochs}")
    if state["signal"]["type"] != args.signal_type or state["args"].get("model_type") != args.model_type:
        raise InputError(f"{where} is a {state['signal']['type']} {state['args'].get('model_type')} fit; the run is "
                         f"a {args.signal_type} {args.model_type} fit")
    # what it fits (opt.ROLES); the data by content below, not by path: a moved data folder still resumes
    differ = [k for k, v in state["args"].items() if ROLE.get(k) == "fit" and k != "input_path" and k in vars(args)
              and v is not None and getattr(args, k) is not None and getattr(args, k) != v]
    if differ:
        raise InputError(f"{where} was fitted with --{differ[0]} {state['args'][differ[0]]}, but args.json says "
                         f"{getattr(args, differ[0])}; a run resumes with the options it was fitted with")
    if bool(args.rpp) != (state["prepare"]["perm"] is not None):
        raise InputError(f"{where}: its permutation does not match the run's --rpp")
    check_data(names[state["sample"]], signals.read(names[state["sample"]], vars(args)), state)
    shape = state["signal"]["shape"]
    before = rng_state()
    try:  # the generator states, tried and put back: a hand-made one is refused here, not mid-run
        set_rng_state(state["rng"])
    except (TypeError, ValueError, RuntimeError, IndexError, KeyError, OverflowError):
        raise InputError(f"{where}: its generator states cannot be restored") from None
    finally:
        set_rng_state(before)
    with torch.random.fork_rng(devices=[]):  # a model to compare with, drawn without moving the run's generators
        model = build_model(vars(args), len(shape) - 1, shape[0])
    check_model(where, state["model"], model)
    check_optimizer(where, state["optimizer"], list(model.parameters()))
