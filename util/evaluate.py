"""`python main.py --eval_ckpt CKPT [--input_path DATA]`: rebuild a signal from a checkpoint alone.

This project's checkpoints carry the fitted transform parameters, the data shape and its range, so
the model's output can be inverted with nothing else. The reference's checkpoints do not: with
--trust_checkpoint they load (only argparse.Namespace allowed) and the transform is refitted on
--input_path, as the reference would do.
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F

from components import transform as T
from models import build_model
from opt import build_parser
from trainer import trainer_class
from trainer.base_trainer import CKPT_FORMAT, Signal, grid_coords
from util.checkpoint import load_checkpoint
from util.io import InputError, Nominal, write_json
from util.logger import Logger
from util.misc import new_run_folder, resolve_device


def _pick_sample(cls, input_path, name):
    files = cls.list_samples(input_path)
    if len(files) == 1:
        return files[0]
    match = [f for f in files if cls.sample_name(f) == name]
    if not match:
        raise InputError(f"{input_path}: holds no sample named '{name}' (the checkpoint's)")
    return match[0]


def eval_checkpoint(args):
    state = load_checkpoint(args.eval_ckpt, trust=args.trust_checkpoint)
    ours = state.get("format") == CKPT_FORMAT
    saved = state["args"] if ours else vars(state["args"]) if isinstance(state["args"], argparse.Namespace) else None
    if saved is None:
        raise InputError(f"{args.eval_ckpt}: its 'args' entry is not an option set")
    opts = {**vars(build_parser().parse_args([])), **saved}
    cls = trainer_class(opts.get("signal_type", "image"))
    device = resolve_device(args.device)
    run_args = argparse.Namespace(**opts)
    name = state.get("sample") or os.path.splitext(os.path.basename(opts.get("input_path") or "signal"))[0]

    signal = data = perm = None
    probe = cls(run_args, None, Logger(None, echo=False), None, None, device)
    if args.input_path:
        signal = probe.read(_pick_sample(cls, args.input_path, name))
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
    model = build_model(probe.opts_for_model(), len(grid), c)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise InputError(f"{args.eval_ckpt}: model weights do not fit a {opts['model_type']} "
                         f"({str(e).splitlines()[0]})")
    model.to(device).eval()
    coords = grid_coords(grid).to(device)
    with torch.inference_mode():
        pred = probe.predict(model, coords)
        recon = tf.inverse(pred).clamp(nominal.lo, nominal.hi).T.reshape(c, *grid).cpu()

    folder = new_run_folder(args.save_dir, args.up_folder_name, f"eval_{name}")
    out = cls(run_args, folder, Logger(folder), None, None, device)
    sig = signal if signal is not None else Signal(name, None, nominal, **meta)
    out.save_prediction(sig, T.restore_data(recon, opts, nominal, perm))
    result = {"checkpoint": os.path.abspath(args.eval_ckpt), "sample": name, "epoch": state.get("epoch")}
    if data is not None:
        metrics = out.evaluate(recon, data, sig)
        target = tf.forward(data).reshape(c, -1).T
        metrics["mse"] = float(F.mse_loss(pred.cpu(), target))
        result["metrics"] = metrics
        print(json.dumps(metrics), flush=True)
    write_json(os.path.join(folder, "eval.json"), result)
    out.log(f"decoded {args.eval_ckpt} into {folder}")
    return 0
