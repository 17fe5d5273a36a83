"""The fitting loop shared by every modality: transform, model, Adam, schedule, metrics, checkpoints.

A modality trainer (image, audio, video) says how to read a sample into a (C, *grid) tensor in its
own units, which metrics to compute on a reconstruction and which files to write. The loop is the
reference's: full batch (video: a random batch per epoch), MSE in the transformed domain, Adam with
lr * 0.1 ** (t / T) stepped once per epoch, metrics at every log_epoch and at the last epoch,
computed on the prediction made before that epoch's update.

Per-step scalars stay on the device and reach TensorBoard in batches, so a step never waits for
the host. Checkpoints hold tensors and plain types only; with the generator states and the metrics
so far they are enough to resume a run exactly.
"""
import glob
import json
import math
import os
import sys
import time

import torch
from tqdm import tqdm

from components import transform as T
from models import build_model, default_lr, n_params
from trainer.fast_step import COMPILE_MIN_EPOCHS, Kernels, make_step, uses_fused_step
from util.io import InputError, list_samples, sample_name, torch_save, write_json
from util.misc import cur_time, rng_state, set_rng_state

CKPT_FORMAT = "symtrans-inr/1"


def make_adam(model, lr, fused):
    """Adam with default betas. With `fused` (the fused SIREN step, which already rounds differently
    from autograd) the fused kernel where the device has one: same update, fewer passes. Otherwise the
    reference's own Adam (PyTorch's default implementation for the device), so that the autograd step
    rounds exactly as the published code does: a chaotic fit (Gauss, PE-MLP) amplifies the last-bit
    differences of another Adam kernel into tenths of a dB within 200 epochs. It also handles WIRE's
    complex parameters, which the fused kernel refuses."""
    if fused and all(p.is_floating_point() for p in model.parameters()):
        try:
            return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.Adam(model.parameters(), lr=lr)


class Signal:
    """One sample: data (C, *grid) in its own units, its Nominal range, and what outputs need."""

    def __init__(self, name, data, nominal, **meta):
        self.name, self.data, self.nominal, self.meta = name, data, nominal, meta


def grid_coords(shape):
    """meshgrid(linspace(-1, 1, n) per axis, indexing="ij") as (prod(shape), len(shape))."""
    axes = [torch.linspace(-1, 1, n) for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(shape))


class BaseTrainer:
    exts = ()
    eval_chunk = 1 << 16  # coordinates per forward pass outside training: bounds evaluation memory

    def __init__(self, args, folder, log, writer, recorder, device, lpips=None, interrupt=None):
        self.args, self.opts = args, vars(args)
        self.folder, self.log, self.writer, self.recorder = folder, log, writer, recorder
        self.device, self.lpips = device, lpips
        self.interrupt = interrupt  # a util.interrupt.DeferredInterrupt: Ctrl-C stops between epochs
        self.kernels = Kernels(args.num_epochs >= COMPILE_MIN_EPOCHS, log)  # shared by the samples: one compilation

    # ---- modality hooks -------------------------------------------------------------------------
    @classmethod
    def list_samples(cls, path):
        """The files (or built-in signals) one run fits, in order."""
        return list_samples(path, cls.exts)

    @staticmethod
    def sample_name(path):
        return sample_name(path)

    def read(self, path):
        raise NotImplementedError

    def evaluate(self, recon, data, signal):
        """Metrics of a reconstruction (C, *grid) against the (prepared) data, both in signal units."""
        raise NotImplementedError

    def save_prediction(self, signal, recon):
        raise NotImplementedError

    def log_media(self, signal, epoch, recon, data):
        """TensorBoard pictures / sounds at a log epoch (off with --no_images)."""

    def log_target(self, signal, data):
        """TensorBoard picture / sound of the target, once per sample."""

    def peak(self, data):
        """The PSNR peak of the per-step scalar: the target's maximum, as the reference."""
        return data.max()

    def batch_size(self, n):
        """Coordinates per step; n (every coordinate) is the reference's full batch."""
        return n

    def model_defaults(self):
        """Backbone options this modality fills in when the user left them unset."""
        return {"first_omega": 30.0}

    # ---- the loop -------------------------------------------------------------------------------
    def opts_for_model(self):
        opts = dict(self.opts)
        for k, v in self.model_defaults().items():
            if opts.get(k) is None:
                opts[k] = v
        return opts

    def fit(self, path, index, resume=None):
        """Fit one sample; `resume` is a checkpoint dict of this sample to continue from."""
        a = self.args
        signal = self.read(path)
        name, nominal, num_epochs = signal.name, signal.nominal, a.num_epochs
        stored_perm = resume["prepare"]["perm"] if resume is not None else None
        data, perm = T.prepare_data(signal.data, self.opts, nominal, perm=stored_perm)  # draws rpp's permutation
        tf = T.build(self.opts, nominal.levels, nominal.lo).fit(data)
        target = tf.forward(data)
        if not torch.isfinite(target).all():
            raise InputError(f"{path}: the {a.transform} transform gives non-finite values on this data")
        self.recorder.attributes[name] = T.attributes(target)
        self.log(f"[{name}] {tuple(data.shape)} {a.transform}: " + json.dumps(tf.params))
        self.log_transform(signal, data, target, tf)
        if not a.no_images and resume is None:
            self.log_target(signal, data)

        c, grid = data.shape[0], tuple(data.shape[1:])
        coords = grid_coords(grid).to(self.device)
        gt = target.reshape(c, -1).T.contiguous().to(self.device)
        ref = data.reshape(c, -1).T.contiguous().to(self.device)
        data_dev = data.to(self.device)
        del target

        mopts = self.opts_for_model()
        model = build_model(mopts, coords.shape[1], c).to(self.device)
        lr = a.lr if a.lr is not None else default_lr(a.model_type)
        optimizer = make_adam(model, lr, fused=uses_fused_step(model, a.eager))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 0.1 ** min(it / num_epochs, 1))
        start = 1
        if resume is not None:
            model.load_state_dict(resume["model"])
            optimizer.load_state_dict(resume["optimizer"])
            scheduler.load_state_dict(resume["scheduler"])
            set_rng_state(resume["rng"])
            start = resume["epoch"] + 1
        else:
            self.log(f"[{name}] {a.model_type} with {n_params(model)} parameters, lr {lr:g}, {num_epochs} epochs")

        n = coords.shape[0]
        bs = self.batch_size(n)
        peak = self.peak(ref)
        lo, hi = nominal.lo, nominal.hi

        def decode_rows(pred):
            return tf.inverse(pred).clamp(lo, hi)

        def rows_to_grid(rows):
            return rows.T.reshape(c, *grid)

        step = make_step(model, optimizer, scheduler, decode_rows, peak, eager=a.eager, kernels=self.kernels)
        ctx = {"signal": signal, "perm": perm, "tf": tf, "model": model, "optimizer": optimizer,
               "scheduler": scheduler, "index": index}
        scalars = []
        t0 = time.time()
        bar = self.progress(name, start, num_epochs)
        for epoch in range(start, num_epochs + 1):
            if self.interrupt is not None:
                self.interrupt.check()
            is_log = epoch % a.log_epoch == 0 or epoch == num_epochs
            if bs >= n:
                idx, cb, gb, rb = None, coords, gt, ref
            else:
                idx = torch.randint(n, (bs,), device=self.device)
                cb, gb, rb = coords[idx], gt[idx], ref[idx]
            on_log = (lambda pred: self._log_epoch_metrics(model, coords, pred if idx is None else None, decode_rows,
                                                           rows_to_grid, data_dev, signal, epoch)) if is_log else None
            loss, step_psnr, metrics = step(cb, gb, rb, on_log)
            scalars.append(torch.stack([loss, step_psnr]))
            if is_log:
                metrics["mse"] = float(loss)
                self.recorder.record(name, epoch, metrics)
                for k, v in self.recorder.samples[name][str(epoch)].items():
                    if isinstance(v, float):
                        self.writer.add_scalar(f"{name}/eval/{k}", v, global_step=epoch)
                self.flush_scalars(name, scalars, epoch)
                bar.log_epoch(epoch, metrics)
            if epoch % a.snap_epoch == 0 and epoch < num_epochs:
                t0 = self.snapshot(ctx, name, scalars, epoch, t0)
            bar.update()
        bar.close()
        step = None  # frees the training buffers before the final full-grid prediction

        # The reconstruction is written before the final checkpoint marks the sample finished, so a
        # run killed in between redoes it on resume instead of skipping it.
        with torch.inference_mode():
            recon = rows_to_grid(decode_rows(self.predict(model, coords)))
            self.save_prediction(signal, T.restore_data(recon.cpu(), self.opts, nominal, perm))
        self.recorder.finished.append(name)
        self.snapshot(ctx, name, scalars, num_epochs, t0)
        return self.recorder.samples.get(name, {})

    def snapshot(self, ctx, name, scalars, epoch, t0):
        """Checkpoint and results.json, with the buffered scalars written first; returns a new t0."""
        self.flush_scalars(name, scalars, epoch)
        self.recorder.time_s += time.time() - t0
        self.save_ckpt(ctx, epoch)
        self.recorder.save(self.folder)
        return time.time()

    def _log_epoch_metrics(self, model, coords, pred, decode_rows, rows_to_grid, data, signal, epoch):
        with torch.inference_mode():
            rows = pred if pred is not None else self.predict(model, coords)
            recon = rows_to_grid(decode_rows(rows))
            metrics = self.evaluate(recon, data, signal)
            if not self.args.no_images:
                self.log_media(signal, epoch, recon, data)
            return metrics

    def predict(self, model, coords):
        with torch.inference_mode():
            if coords.shape[0] <= self.eval_chunk:
                return model(coords)
            return torch.cat([model(coords[i:i + self.eval_chunk]) for i in range(0, coords.shape[0], self.eval_chunk)])

    # ---- logging --------------------------------------------------------------------------------
    def flush_scalars(self, name, scalars, epoch):
        """Write the buffered per-step scalars (one host transfer for many steps)."""
        if not scalars:
            return
        values = torch.stack(scalars).double().cpu().tolist()
        first = epoch - len(values) + 1
        for i, (loss, psnr) in enumerate(values):
            s = first + i
            self.writer.add_scalar(f"{name}/train/total_loss", loss, global_step=s)
            if math.isfinite(psnr):
                self.writer.add_scalar(f"{name}/train/psnr", psnr, global_step=s)
            self.writer.add_scalar(f"{name}/train/mse", loss, global_step=s)
        scalars.clear()

    def log_transform(self, signal, data, target, tf):
        """The paper's key figure: the data's histogram before and after the transform."""
        name = signal.name
        self.writer.add_histogram(f"{name}/data/before", data.flatten(), 0, bins=256)
        self.writer.add_histogram(f"{name}/data/after_{self.args.transform}", target.flatten(), 0, bins=256)
        self.writer.add_text(f"{name}/transform", "    " + json.dumps({"transform": tf.name, **tf.params}), 0)

    def progress(self, name, start, total):
        return Progress(name, start, total, quiet=self.args.quiet, log=self.log)

    # ---- checkpoints ----------------------------------------------------------------------------
    def save_ckpt(self, ctx, epoch):
        signal, tf = ctx["signal"], ctx["tf"]
        state = {
            "format": CKPT_FORMAT,
            "epoch": epoch,
            "sample": signal.name,
            "sample_index": ctx["index"],
            "model": ctx["model"].state_dict(),
            "optimizer": ctx["optimizer"].state_dict(),
            "scheduler": ctx["scheduler"].state_dict(),
            "args": dict(self.opts),
            "transform": {"name": tf.name, "params": tf.params},
            "prepare": {"inverse": bool(self.opts.get("inverse")), "perm": ctx["perm"]},
            "signal": {"type": self.args.signal_type, "shape": list(signal.data.shape),
                       "nominal": signal.nominal.as_dict(), "meta": signal.meta},
            "rng": rng_state(),
            "recorder": self.recorder.state(),
        }
        ckpt_dir = os.path.join(self.folder, "ckpt")
        fname = f"ckpt_{signal.name}_{epoch}_{cur_time()}.pth"
        torch_save(os.path.join(ckpt_dir, fname), state)
        write_json(os.path.join(ckpt_dir, "latest.json"), {"file": fname, "sample": signal.name, "epoch": epoch})
        self.prune_ckpts(ckpt_dir, signal.name)
        self.log(f"[{signal.name}] checkpoint {fname}")

    def prune_ckpts(self, ckpt_dir, name, keep=2):
        """Keep the last `keep` snapshots of this sample; a sample's final checkpoint always stays."""
        files = glob.glob(os.path.join(glob.escape(ckpt_dir), f"ckpt_{glob.escape(name)}_*.pth"))

        def epoch_of(f):
            try:
                return int(os.path.basename(f)[len(f"ckpt_{name}_"):].split("_")[0])
            except ValueError:
                return -1

        snaps = sorted((f for f in files if epoch_of(f) != self.args.num_epochs), key=os.path.getmtime)
        for f in snaps[:-keep]:
            os.unlink(f)


class Progress:
    """A tqdm bar with ETA and the latest PSNR; plain lines at log epochs when quiet or not a terminal."""

    def __init__(self, name, start, total, quiet, log):
        self.name, self.total, self.log = name, total, log
        plain = quiet or not sys.stderr.isatty()
        self.bar = None if plain else tqdm(total=total, initial=start - 1, desc=name, dynamic_ncols=True,
                                           file=sys.stderr)
        self.t0, self.start = time.time(), start

    def update(self):
        if self.bar is not None:
            self.bar.update()

    def log_epoch(self, epoch, metrics):
        psnr = metrics.get("psnr")
        shown = " ".join(f"{k} {v:.5g}" for k, v in metrics.items() if isinstance(v, float))
        if self.bar is not None:
            self.bar.set_postfix(psnr=f"{psnr:.2f}" if psnr is not None else "n/a")
        done = epoch - self.start + 1
        eta = (time.time() - self.t0) / done * (self.total - epoch)
        self.log(f"[{self.name}] epoch {epoch}/{self.total}: {shown} (eta {eta:.0f} s)")

    def close(self):
        if self.bar is not None:
            self.bar.close()
