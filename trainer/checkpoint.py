"""Checkpoints, in one place: the format, saving, safe loading, the latest one of a run, pruning, and
decoding a checkpoint into a signal (`python main.py --eval_ckpt CKPT [--input_path DATA]`).

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
import torch.nn.functional as F

from components import transform as T
from components.signals import Signal, signals_for
from models import build_model
from util.errors import InputError
from util.io import Nominal, safe_name, torch_save, write_json
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


def _pick_sample(signals, input_path, name):
    files = signals.list_samples(input_path)
    if len(files) == 1:
        return files[0]
    match = [f for f in files if signals.sample_name(f) == name]
    if not match:
        raise InputError(f"{input_path}: holds no sample named '{name}' (the checkpoint's)")
    return match[0]


def decode(args, defaults):
    """--eval_ckpt: the checkpoint's reconstruction into a new run folder (and, with --input_path, its
    metrics as one JSON line). `defaults`: the option dict main.py's parser gives with no arguments."""
    from trainer import trainer_class
    from trainer.base_trainer import grid_coords, model_options, predict
    from util.logger import Logger
    from util.misc import new_run_folder, resolve_device

    state = load(args.eval_ckpt, trust=args.trust_checkpoint)
    ours = state.get("format") == FORMAT
    saved = state["args"] if ours else vars(state["args"]) if isinstance(state["args"], argparse.Namespace) else None
    if saved is None:
        raise InputError(f"{args.eval_ckpt}: its 'args' entry is not an option set")
    opts = {**defaults, **saved}
    signals = signals_for(opts.get("signal_type", "image"))
    cls = trainer_class(opts.get("signal_type", "image"))
    device = resolve_device(args.device)
    # names inside a downloaded checkpoint are data: reduced to a file name before any path is made of them
    name = safe_name(state.get("sample") or os.path.splitext(os.path.basename(str(opts.get("input_path") or "")))[0])

    signal = data = perm = None
    if args.input_path:
        signal = signals.read(_pick_sample(signals, args.input_path, name), opts)
        name = signal.name
    if ours:
        tf = T.restore(state["transform"])
        perm = state["prepare"]["perm"]
        nominal = Nominal.from_dict(state["signal"]["nominal"])
        shape = state["signal"]["shape"]
        meta = state["signal"].get("meta", {})
        if signal is not None:
            if list(signal.data.shape) != list(shape):
                raise InputError(f"{args.input_path}: shape {list(signal.data.shape)} differs from the checkpoint's {shape}")
            data, _ = T.prepare_data(signal.data, {**opts, "rpp": False}, nominal, perm=perm)
    else:
        if signal is None:
            raise InputError(f"{args.eval_ckpt}: reference-format checkpoints store no transform parameters; "
                             f"pass --input_path (the data it was fitted on) to refit them")
        if opts.get("rpp"):
            raise InputError(f"{args.eval_ckpt}: a reference rpp checkpoint does not store its permutation")
        nominal, shape, meta = signal.nominal, list(signal.data.shape), signal.meta
        data, _ = T.prepare_data(signal.data, opts, nominal)
        tf = T.build(opts, nominal.levels, nominal.lo).fit(data)

    c, grid = shape[0], tuple(shape[1:])
    model = build_model(model_options(opts, cls.model_defaults()), len(grid), c)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise InputError(f"{args.eval_ckpt}: model weights do not fit a {opts['model_type']} "
                         f"({str(e).splitlines()[0]})")
    model.to(device).eval()
    coords = grid_coords(grid).to(device)
    pred = predict(model, coords)
    recon = tf.inverse(pred).clamp(nominal.lo, nominal.hi).T.reshape(c, *grid).cpu()

    folder = new_run_folder(args.save_dir, args.up_folder_name, f"eval_{name}")
    log = Logger(folder)
    sig = signal if signal is not None else Signal(name, None, nominal, meta)
    signals.save_prediction(folder, sig, T.restore_data(recon, opts, nominal, perm), log)
    result = {"checkpoint": os.path.abspath(args.eval_ckpt), "sample": name, "epoch": state.get("epoch")}
    if data is not None:
        metrics = cls.evaluate(recon, data, sig)
        target = tf.forward(data).reshape(c, -1).T
        metrics["mse"] = float(F.mse_loss(pred.cpu(), target))
        result["metrics"] = metrics
        print(json.dumps(metrics), flush=True)
    write_json(os.path.join(folder, "eval.json"), result)
    log(f"decoded {args.eval_ckpt} into {folder}")
    return 0
