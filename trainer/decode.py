"""Decoding checkpoints into signals and metrics: one checkpoint, a run folder's or a whole log tree's.

    python main.py --eval_ckpt CKPT [--input_path DATA]                      # one: eval_<name>/ + a JSON line
    python main.py --eval_ckpt RUN_OR_LOG_DIR --input_path DATA [--trust_checkpoint]

A folder: every run's last checkpoint of every sample (ckpt/ckpt_<name>_<epoch>_<time>.pth, the
highest epoch), this project's or the published code's, each decoded with its own options. Per source
run, <save_dir>/decoded/<experiment>/<run>/ gets the decoded signals, an args.json and a results.json
the summariser reads; the source tree is only read. The metrics describe the model after the
checkpoint's epoch's update, whereas training logs measure before it: a decoded PSNR at epoch E is a
little above the logged one, and results.json says so ("measured": "after_update").
The published code's checkpoints store no transform parameters (they are refitted on --input_path)
and no rpp permutation (such runs cannot be decoded).
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
from opt import check_values, option_kinds, resolve
from trainer import checkpoint
from trainer.base_trainer import Sample, grid_coords, make_sample, new_model, predict
from util.errors import EXIT_USAGE, InputError, OptionError, UserError
from util.io import Nominal, safe_name, write_json, write_text
from util.logger import Logger
from util.misc import new_run_folder, resolve_device
from util.recorder import Recorder, clean_metrics
from util.records import check_options, walk

DECODED = "decoded"  # <save_dir>/decoded/: a tree's decodes, kept apart from training runs


@dataclass
class Decoded:
    name: str
    epoch: int
    opts: dict
    signals: object  # the modality's io (components/signals.py)
    signal: Signal  # data None when decoded without --input_path
    recon: object  # the reconstruction in the signal's own units (permutation and inversion undone)
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


def resolved(opts, path):
    """A checkpoint's options resolved as a run's are (opt.resolve): older checkpoints and the published
    code's may leave the backbone's and modality's defaults None."""
    try:
        return vars(resolve(argparse.Namespace(**opts)))
    except OptionError as e:
        raise InputError(f"{path}: {e}") from None


def decode_checkpoint(path, input_path, trust, device, defaults, by_name=False, name_hint=None):
    """Decode one checkpoint: the reconstruction, and with input_path its metrics and Attributes.
    The sample's name: the checkpoint's own, else name_hint (from the file name), else its input_path's."""
    state = checkpoint.load(path, trust=trust)
    ours = state.get("format") == checkpoint.FORMAT
    saved = state["args"] if ours else vars(state["args"]) if isinstance(state["args"], argparse.Namespace) else None
    if not isinstance(saved, dict):
        raise InputError(f"{path}: its 'args' entry is not an option set")
    opts = {**defaults, **saved}
    try:  # the checkpoint's own options, checked as main.py checks the command line's
        check_values(check_options(opts, option_kinds(), path))
    except OptionError as e:
        raise InputError(f"{path}: its options: {e}") from None
    opts = resolved(opts, path)
    m = modality(opts["signal_type"])
    signals = m.io
    # names inside a downloaded checkpoint are data: reduced to a file name before any path is made of them
    name = safe_name(state.get("sample") or name_hint
                     or os.path.splitext(os.path.basename(str(opts.get("input_path") or "")))[0])

    signal = perm = None
    if input_path:
        signal = signals.read(_pick_sample(signals, input_path, name, by_name), opts)
        name = signal.name
    if ours:
        try:
            tf = T.restore(state["transform"])
        except T.TransformError as e:
            raise InputError(f"{path}: {e}") from None
        perm = state["prepare"]["perm"]
        nominal = Nominal.from_dict(state["signal"]["nominal"])
        shape = state["signal"]["shape"]
        meta = state["signal"].get("meta", {})
        if signal is None:  # no data: only its shape is known, which a meta tensor (no storage) carries
            sample = Sample(Signal(name, None, nominal, meta), torch.empty(shape, device="meta"), perm, tf,
                            grid_coords(shape[1:]).to(device), None, None)
        else:
            if list(signal.data.shape) != list(shape):
                raise InputError(f"{input_path}: shape {list(signal.data.shape)} differs from the checkpoint's {shape}")
            if signal.nominal.as_dict() != nominal.as_dict():
                raise InputError(f"{input_path}: value range {signal.nominal.as_dict()} differs from the checkpoint's "
                                 f"{nominal.as_dict()}")
            sample, target = make_sample(Signal(name, signal.data, nominal, meta), opts, device, tf=tf, perm=perm)
    else:
        if signal is None:
            raise InputError(f"{path}: reference-format checkpoints store no transform parameters; "
                             f"pass --input_path (the data it was fitted on) to refit them")
        if opts.get("rpp"):
            raise InputError(f"{path}: a reference rpp checkpoint does not store its permutation")
        nominal = signal.nominal
        sample, target = make_sample(signal, opts, device)  # the transform refitted, as the reference would

    model = new_model(opts, sample, device)
    checkpoint.check_model(path, state["model"], model)
    model.load_state_dict(state["model"])
    model.eval()
    pred = predict(model, sample.coords)
    if not bool(pred.isfinite().all()):
        raise InputError(f"{path}: the model's prediction is not finite (its weights overflow)")
    recon = sample.to_grid(sample.decode_rows(pred)).cpu()
    sig = sample.signal
    metrics = attributes = None
    if signal is not None:
        metrics = m.evaluate(recon, sample.data.cpu(), sig)
        metrics["mse"] = float(F.mse_loss(pred.cpu(), sample.gt.cpu()))
        attributes = T.attributes(target)
    return Decoded(name, state.get("epoch"), opts, signals, sig, T.restore_data(recon, opts, nominal, perm),
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
              "lr_schedule": d.opts["lr_schedule"]}  # how it was trained (the published code's: decay)
    if d.metrics is not None:
        result["metrics"] = d.metrics = clean_metrics(d.metrics)  # JSON has no NaN: a metric that is none is null
        print(json.dumps(d.metrics, allow_nan=False), flush=True)
    write_json(os.path.join(folder, "eval.json"), result)
    log(f"decoded {args.eval_ckpt} into {folder}")
    return 0


def last_checkpoints(root):
    """{run folder: {sample: checkpoint path}} under root: per sample the checkpoint of the highest
    epoch (the newest file on a tie), from names ckpt_<sample>_<epoch>_<time>.pth."""
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
    """<save_dir>/decoded/<experiment>/<run> (from the path below the tree's parent), with a suffix
    when it exists already. Every part is reduced to a safe file name."""
    base = os.path.dirname(os.path.dirname(run)) if run == root else os.path.dirname(root)
    parts = [safe_name(p, "run") for p in os.path.relpath(run, base).split(os.sep)]
    out = candidate = os.path.join(save_dir, DECODED, *parts)
    n = 1
    while os.path.exists(candidate):
        n += 1
        candidate = f"{out}_{n}"
    return candidate


def decode_tree(args, defaults):
    """Decode every run's last checkpoints under args.eval_ckpt, writing each run's folder as soon as
    its checkpoints are done; one line per failure, exit 2 if any failed."""
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
    """One source run's decodes: the signals, args.json (the run's own options) and results.json in
    the summariser's format, marked as measured after the update of each checkpoint's epoch."""
    os.makedirs(out)
    log = Logger(out)
    for d in decoded:
        d.signals.save_prediction(out, d.signal, d.recon, log)
    opts = {k: v for k, v in decoded[0].opts.items() if k != "eval_ckpt"}
    write_json(os.path.join(out, "args.json"), {**opts, "decoded_from": source})
    recorder = Recorder(opts.get("num_epochs"), opts["lr_schedule"])
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
