"""Decoding checkpoints into signals and metrics: one checkpoint, a run folder's or a whole log tree's
(every run's last checkpoint of every sample, each decoded with its own options, into
<save_dir>/decoded/<experiment>/<run>/). A decoded model is the one after its epoch's update, so
its PSNR is a little above the logged one: results.json says "measured": "after_update". The
published code's checkpoints hold no transform (refitted on --input_path) and no rpp permutation.
"""
import argparse
import json
import os
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from components import transform as T
from components.signals import Signal, modality
from models import build_model
from opt import check_kinds, check_values, resolve
from trainer import checkpoint
from trainer.loop import grid_coords, make_sample, predict
from util.errors import EXIT_USAGE, InputError, OptionError, UserError
from util.io import Nominal, safe_name, write_json, write_text
from util.logger import Logger
from util.misc import new_run_folder, resolve_device
from util.recorder import Recorder, clean_metrics
from util.readers import walk

DECODED = "decoded"  # <save_dir>/decoded/: a tree's decodes, kept apart from training runs


@dataclass
class Decoded:
    name: str
    epoch: int
    opts: dict
    signals: object  # the modality's io (components/signals.py)
    signal: Signal  # the decoded signal: its name, range and meta, its data the reconstruction
    recon: torch.Tensor  # the reconstruction in the signal's own units (permutation and inversion undone)
    metrics: dict  # None without --input_path
    attributes: dict  # of the transformed data; None without --input_path


def _pick_sample(signals, input_path, name, by_name):
    """The file of `input_path` holding sample `name`; a single file is taken as it is unless by_name."""
    files = signals.list_samples(input_path)
    if len(files) == 1 and not by_name:
        return files[0]
    match = [f for f in files if signals.sample_name(f) == name]
    if not match:
        raise InputError(f"{input_path}: holds no sample named '{name}' (the checkpoint's)")
    return match[0]


def checkpoint_options(path, state, defaults):
    """The options a checkpoint was fitted with (this project's dict, the published code's Namespace)
    over `defaults`, checked as main.py checks the command line's, then resolved."""
    saved = state["args"]
    saved = vars(saved) if isinstance(saved, argparse.Namespace) else saved
    if not isinstance(saved, dict):
        raise InputError(f"{path}: its 'args' entry is not an option set")
    opts = {**defaults, **saved}
    try:
        check_values(check_kinds(opts, path))
    except OptionError as e:
        raise InputError(f"{path}: its options: {e}") from None
    try:  # resolved as a run's are: older checkpoints and the published code's leave some defaults None
        return vars(resolve(argparse.Namespace(**opts)))
    except OptionError as e:
        raise InputError(f"{path}: {e}") from None


@dataclass
class Stored:
    """What decoding needs of a fit: transform, the data's shape (C, *grid), range, meta, rpp's permutation."""
    tf: T.Transform
    shape: list
    nominal: Nominal
    meta: dict
    perm: torch.Tensor


def stored_fit(path, state):
    """This project's checkpoint's fit, its transform rebuilt by its own class."""
    try:
        tf = T.restore(state["transform"])
    except T.TransformError as e:
        raise InputError(f"{path}: {e}") from None
    info = state["signal"]
    return Stored(tf, info["shape"], Nominal.from_dict(info["nominal"]), info.get("meta", {}), state["prepare"]["perm"])


def measured_fit(path, state, opts, signal, source, device):
    """With the data: (the fit, the Sample that measures it, the transformed data). The published code's
    checkpoints store no transform nor permutation: the transform is refitted (as that code would), rpp cannot be."""
    if state.get("format") == checkpoint.FORMAT:
        fit = stored_fit(path, state)
        checkpoint.check_data(source, signal, state)
        sample, target = make_sample(Signal(signal.name, signal.data, fit.nominal, fit.meta), opts, device,
                                     tf=fit.tf, perm=fit.perm)
        return fit, sample, target
    if opts.get("rpp"):
        raise InputError(f"{path}: a reference rpp checkpoint does not store its permutation")
    sample, target = make_sample(signal, opts, device)
    return Stored(sample.tf, list(signal.data.shape), signal.nominal, signal.meta, None), sample, target


def reconstruct(path, state, opts, fit, device):
    """The checkpoint's model on the fit's grid: its (finite) prediction rows and reconstruction (C, *grid)."""
    model = build_model(opts, len(fit.shape) - 1, fit.shape[0]).to(device)
    checkpoint.check_model(path, state["model"], model)
    model.load_state_dict(state["model"])
    model.eval()
    pred = predict(model, grid_coords(fit.shape[1:]).to(device))
    if not bool(pred.isfinite().all()):
        raise InputError(f"{path}: the model's prediction is not finite (its weights overflow)")
    return pred, fit.tf.inverse(pred).clamp(fit.nominal.lo, fit.nominal.hi).T.reshape(*fit.shape).cpu()


def decode_checkpoint(path, input_path, trust, device, defaults, by_name=False, name_hint=None):
    """One checkpoint's reconstruction, and with input_path its metrics and Attributes. The sample's name:
    the checkpoint's own, else name_hint (from the file name), else its input_path's."""
    state = checkpoint.load(path, trust=trust)
    opts = checkpoint_options(path, state, defaults)
    m = modality(opts["signal_type"])
    # names inside a downloaded checkpoint are data: reduced to a file name before any path is made of them
    name = safe_name(state.get("sample") or name_hint
                     or os.path.splitext(os.path.basename(str(opts.get("input_path") or "")))[0])
    metrics = attributes = None
    if input_path:
        source = _pick_sample(m.io, input_path, name, by_name)
        signal = m.io.read(source, opts)
        fit, sample, target = measured_fit(path, state, opts, signal, source, device)
        pred, recon = reconstruct(path, state, opts, fit, device)
        metrics = m.evaluate(recon, sample.data.cpu(), sample.signal)
        metrics["mse"] = float(F.mse_loss(pred.cpu(), sample.gt.cpu()))
        attributes, name = T.attributes(target), signal.name
    elif state.get("format") == checkpoint.FORMAT:
        fit = stored_fit(path, state)
        _, recon = reconstruct(path, state, opts, fit, device)
    else:
        raise InputError(f"{path}: reference-format checkpoints store no transform parameters; "
                         f"pass --input_path (the data it was fitted on) to refit them")
    restored = T.restore_data(recon, opts, fit.nominal, fit.perm)
    return Decoded(name, state.get("epoch"), opts, m.io, Signal(name, restored, fit.nominal, fit.meta), restored,
                   metrics, attributes)


def decode(args, defaults):
    """--eval_ckpt: a checkpoint file, or every run's last checkpoints under a folder. `defaults`: the
    option dict main.py's parser gives with no arguments."""
    if os.path.isdir(args.eval_ckpt):
        return decode_tree(args, defaults)
    d = decode_checkpoint(args.eval_ckpt, args.input_path, args.trust_checkpoint, resolve_device(args.device), defaults)
    folder = new_run_folder(args.save_dir, args.up_folder_name, f"eval_{d.name}")
    log = Logger(folder)
    d.signals.save_prediction(folder, d.signal, d.recon, log)
    result = {"checkpoint": os.path.abspath(args.eval_ckpt), "sample": d.name, "epoch": d.epoch,
              # how it was trained (the published code's: decay, mse)
              "lr_schedule": d.opts["lr_schedule"], "loss": d.opts["loss"]}
    if d.metrics is not None:
        result["metrics"] = d.metrics = clean_metrics(d.metrics)  # JSON has no NaN: a metric that is none is null
        print(json.dumps(d.metrics, allow_nan=False), flush=True)
    write_json(os.path.join(folder, "eval.json"), result)
    log(f"decoded {args.eval_ckpt} into {folder}")
    return 0


def last_checkpoints(root):
    """{run folder: {sample: path}} under root: per sample the ckpt_<sample>_<epoch>_<time>.pth of the highest
    epoch (the newest file on a tie)."""
    runs = {}
    for dirpath, dirs, files in walk(root):
        if os.path.basename(dirpath) != "ckpt":
            continue
        found = {}
        for f in sorted(files):
            if not (f.startswith("ckpt_") and f.endswith(".pth")):
                continue
            parts = f[len("ckpt_"):-len(".pth")].rsplit("_", 2)  # the sample's name may hold '_'
            if len(parts) != 3 or not parts[1].isdigit():
                continue
            path = os.path.join(dirpath, f)
            key = (int(parts[1]), os.path.getmtime(path))
            if parts[0] not in found or key > found[parts[0]][0]:
                found[parts[0]] = (key, path)
        if found:
            runs[os.path.dirname(dirpath)] = {name: path for name, (_, path) in sorted(found.items())}
    return runs


def _out_folder(save_dir, root, run):
    """<save_dir>/decoded/<experiment>/<run> (safe names of the path below the tree's parent), suffixed if it exists."""
    base = os.path.dirname(os.path.dirname(run)) if run == root else os.path.dirname(root)
    parts = [safe_name(p, "run") for p in os.path.relpath(run, base).split(os.sep)]
    out = candidate = os.path.join(save_dir, DECODED, *parts)
    n = 1
    while os.path.exists(candidate):
        n += 1
        candidate = f"{out}_{n}"
    return candidate


def decode_tree(args, defaults):
    """Every run's last checkpoints under args.eval_ckpt, a run's folder written once its checkpoints are
    done; one line per failure, exit 2 if any failed."""
    root = os.path.realpath(args.eval_ckpt)  # links resolved: a tree given through one is still the tree
    save_dir = os.path.realpath(args.save_dir)
    if save_dir == root or save_dir.startswith(root + os.sep):
        raise InputError(f"--save_dir {args.save_dir} lies inside {args.eval_ckpt}, which is only read: choose another")
    runs = last_checkpoints(root)
    total = sum(len(ckpts) for ckpts in runs.values())
    if not total:
        raise InputError(f"{args.eval_ckpt}: no checkpoints (ckpt/ckpt_<name>_<epoch>_<time>.pth) under it")
    if not args.input_path:
        print("note: no --input_path: reconstructions only, no metrics (and published checkpoints cannot be "
              "decoded without the data)", file=sys.stderr)
    device = resolve_device(args.device)
    n_ok, t0 = 0, time.time()
    with tqdm(total=total, desc="decoding", unit="ckpt", file=sys.stderr, dynamic_ncols=True) as bar:
        for run, ckpts in runs.items():
            done = []
            for name, path in ckpts.items():
                try:
                    done.append(decode_checkpoint(path, args.input_path, args.trust_checkpoint, device, defaults,
                                                  by_name=True, name_hint=name))
                except UserError as e:
                    bar.write(f"error: {e}", file=sys.stderr)
                bar.update()
            if done:
                write_run(_out_folder(save_dir, root, run), run, done, complete=len(done) == len(ckpts))
            n_ok += len(done)
    print(f"decoded {n_ok} of {total} checkpoints from {len(runs)} run(s) in {time.time() - t0:.1f} s on {device} "
          f"into {os.path.join(args.save_dir, DECODED)}" + (f"; {total - n_ok} failed" if n_ok < total else ""),
          file=sys.stderr)
    return EXIT_USAGE if n_ok < total else 0


def write_run(out, source, decoded, complete):
    """One run's decodes: the signals, args.json (its own options), results.json marked measured after_update."""
    os.makedirs(out)
    log = Logger(out)
    for d in decoded:
        d.signals.save_prediction(out, d.signal, d.recon, log)
    opts = {k: v for k, v in decoded[0].opts.items() if k != "eval_ckpt"}
    write_json(os.path.join(out, "args.json"), {**opts, "decoded_from": source})
    recorder = Recorder(opts.get("num_epochs"), opts["lr_schedule"], opts["loss"])
    for d in decoded:
        if d.metrics is not None:
            recorder.record(d.name, d.epoch, d.metrics)
            recorder.describe(d.name, d.attributes, d.recon.shape)
    complete = complete and all(d.metrics is not None for d in decoded)
    write_json(os.path.join(out, "results.json"), {**recorder.results(complete), "measured": "after_update",
                                                   "decoded_from": source,
                                                   "checkpoint_epochs": {d.name: d.epoch for d in decoded}})
    write_text(os.path.join(out, "res_table.md"), recorder.res_table())
    log(f"decoded {len(decoded)} checkpoint(s) of {source} into {out}")
