"""The fitting loop shared by every modality: transform, model, Adam, schedule, metrics, checkpoints.

A modality trainer (image, audio, video) adds what is modality-specific in the loop: the metrics of
a reconstruction, the batch, the PSNR peak, backbone defaults. Reading and writing signals is
components/signals.py's; checkpoints are trainer/checkpoint.py's. The loop is the reference's: full
batch (video: a random batch per epoch), MSE in the transformed domain, Adam with
lr * 0.1 ** (t / T) stepped once per epoch, metrics at every log_epoch and at the last epoch,
computed on the prediction made before that epoch's update.

Per-step scalars stay on the device and reach TensorBoard in batches, so a step never waits for
the host.
"""
import json
import math
import sys
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from components import transform as T
from components.signals import Signal, signals_for
from models import build_model, default_lr, n_params
from trainer import checkpoint, memory
from trainer.fast_step import COMPILE_MIN_EPOCHS, Kernels, Step, uses_fused_step
from trainer.memory import EVAL_CHUNK  # coordinates per forward pass outside training: bounds evaluation memory
from util.errors import InputError
from util.misc import set_rng_state


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


def grid_coords(shape):
    """meshgrid(linspace(-1, 1, n) per axis, indexing="ij") as (prod(shape), len(shape))."""
    axes = [torch.linspace(-1, 1, n) for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(shape))


def predict(model, coords, chunk=EVAL_CHUNK):
    """The model on every coordinate, `chunk` rows at a time, written into one (rows, C) tensor: chunk
    outputs kept between the passes would sit in the freed activations' memory and keep the allocator
    from reusing it (on the CPU ~8 MB more resident memory per 8192-row chunk, measured)."""
    with torch.inference_mode():
        if coords.shape[0] <= chunk:
            return model(coords)
        out = None
        for i in range(0, coords.shape[0], chunk):
            rows = model(coords[i:i + chunk])
            if out is None:
                out = rows.new_empty((coords.shape[0], *rows.shape[1:]))
            out[i:i + rows.shape[0]] = rows
        return out


def write_step_scalars(writer, name, scalars, epoch):
    """Write the buffered per-step [loss, psnr] pairs that end at `epoch` (one host transfer for many
    steps) as the reference's three scalars, and empty the buffer."""
    if not scalars:
        return
    values = torch.stack(scalars).double().cpu().tolist()
    first = epoch - len(values) + 1
    for i, (loss, psnr) in enumerate(values):
        s = first + i
        writer.add_scalar(f"{name}/train/total_loss", loss, global_step=s)
        if math.isfinite(psnr):
            writer.add_scalar(f"{name}/train/psnr", psnr, global_step=s)
        writer.add_scalar(f"{name}/train/mse", loss, global_step=s)
    scalars.clear()


def model_options(opts, defaults):
    """The option dict a backbone is built from: the modality's defaults where the user left None."""
    return {**opts, **{k: v for k, v in defaults.items() if opts.get(k) is None}}


@dataclass
class Sample:
    """A signal ready to fit: the data as prepared (inverted / permuted rows), its fitted transform,
    and the coordinate, target and data rows on the device."""
    signal: Signal
    data: torch.Tensor  # (C, *grid), prepared, on the device
    perm: torch.Tensor  # rpp's permutation, or None
    tf: T.Transform
    coords: torch.Tensor
    gt: torch.Tensor  # transformed data rows (N, C): the training target
    ref: torch.Tensor  # data rows (N, C): what reconstructions are measured against

    def decode_rows(self, pred):
        nominal = self.signal.nominal
        return self.tf.inverse(pred).clamp(nominal.lo, nominal.hi)

    def to_grid(self, rows):
        return rows.T.reshape(*self.data.shape)


@dataclass
class Fit:
    """What trains on one sample, and the epoch it starts at (later than 1 when resumed)."""
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    start: int


class BaseTrainer:
    def __init__(self, args, folder, log, writer, recorder, device, lpips=None, interrupt=None):
        self.args, self.opts = args, vars(args)
        self.folder, self.log, self.writer, self.recorder = folder, log, writer, recorder
        self.device, self.lpips = device, lpips
        self.interrupt = interrupt  # a util.interrupt.DeferredInterrupt: a stop comes between epochs
        self.signals = signals_for(args.signal_type)
        self.kernels = Kernels(args.num_epochs >= COMPILE_MIN_EPOCHS, log)  # shared by the samples: one compilation

    # ---- what a modality changes ----------------------------------------------------------------
    @classmethod
    def evaluate(cls, recon, data, signal, lpips=None):
        """Metrics of a reconstruction (C, *grid) against the (prepared) data, both in signal units."""
        raise NotImplementedError

    @classmethod
    def model_defaults(cls):
        """Backbone options this modality fills in when the user left them unset."""
        return {"first_omega": 30.0}

    @staticmethod
    def peak(ref):
        """The PSNR peak of the per-step scalar: the data's maximum, as the reference."""
        return ref.max()

    def batch_size(self, n):
        """Coordinates per step; n (every coordinate) is the reference's full batch."""
        return n

    # ---- the loop -------------------------------------------------------------------------------
    def fit(self, path, resume=None):
        """Fit one sample; `resume` is a checkpoint dict of this sample to continue from."""
        sample = self.prepare(path, resume)
        fit = self.build(sample, resume)
        name, num_epochs = sample.signal.name, self.args.num_epochs
        n = sample.coords.shape[0]
        batch = self.batch_size(n)
        self.log(f"[{name}] {self.args.model_type}, {n_params(fit.model)} parameters, lr "
                 f"{fit.optimizer.defaults['lr']:g}, {batch} of {n} coordinates per step, {num_epochs} epochs")
        chunk = self.chunk_rows(sample, fit.model, batch)
        self.eval_rows = EVAL_CHUNK if chunk is None else min(EVAL_CHUNK, chunk)
        step = Step(fit.model, fit.optimizer, fit.scheduler, sample.decode_rows, self.peak(sample.ref),
                    eager=self.args.eager, kernels=self.kernels, chunk=chunk)
        scalars, t0 = [], time.time()
        bar = Progress(name, fit.start, num_epochs, quiet=self.args.quiet, log=self.log)
        for epoch in range(fit.start, num_epochs + 1):
            if self.interrupt is not None and self.interrupt.requested:  # Ctrl-C, SIGTERM, SIGUSR1/2
                if epoch > fit.start:  # what was trained since the last checkpoint is kept
                    self.snapshot(sample, fit, scalars, epoch - 1, t0)
                self.interrupt.check()
            idx = None if batch >= n else torch.randint(n, (batch,), device=self.device)
            rows = (sample.coords, sample.gt, sample.ref)
            coords, gt, ref = rows if idx is None else (r[idx] for r in rows)
            pred, loss = step.forward_backward(coords, gt)
            scalars.append(torch.stack([loss, step.psnr(pred, ref)]))
            is_log = epoch % self.args.log_epoch == 0 or epoch == num_epochs
            if is_log:  # before the update: metrics describe the model that made `pred`
                metrics = self.epoch_metrics(sample, fit.model, pred if idx is None else None, epoch)
                metrics["mse"] = float(loss)
            step.update()
            if is_log:
                self.record(name, epoch, metrics, scalars)
                bar.log_epoch(epoch, metrics)
            due = epoch % self.args.snap_epoch == 0 or time.time() - t0 >= self.args.snap_minutes * 60
            if due and epoch < num_epochs:  # t0: the last snapshot's time
                t0 = self.snapshot(sample, fit, scalars, epoch, t0)
            bar.update()
        bar.close()
        del step  # frees the training buffers before the final full-grid prediction
        # The reconstruction is written before the final checkpoint marks the sample finished, so a
        # run killed in between redoes it on resume instead of skipping it.
        recon = sample.to_grid(sample.decode_rows(predict(fit.model, sample.coords, self.eval_rows)))
        self.signals.save_prediction(self.folder, sample.signal,
                                     T.restore_data(recon.cpu(), self.opts, sample.signal.nominal, sample.perm), self.log)
        self.recorder.finished.append(name)
        self.snapshot(sample, fit, scalars, num_epochs, t0)
        return self.recorder.samples.get(name, {})

    def prepare(self, path, resume):
        """Read, prepare (inverse / rpp) and transform one sample; log the transform."""
        a = self.args
        signal = self.signals.read(path, self.opts, self.log)
        stored_perm = resume["prepare"]["perm"] if resume is not None else None
        data, perm = T.prepare_data(signal.data, self.opts, signal.nominal, perm=stored_perm)  # draws rpp's permutation
        tf = T.build(self.opts, signal.nominal.levels, signal.nominal.lo).fit(data)
        target = tf.forward(data)
        if not torch.isfinite(target).all():
            raise InputError(f"{path}: the {a.transform} transform gives non-finite values on this data")
        self.recorder.attributes[signal.name] = T.attributes(target)
        self.log(f"[{signal.name}] {tuple(data.shape)} {a.transform}: " + json.dumps(tf.params))
        self.log_transform(signal, data, target, tf)
        if not a.no_images and resume is None:
            self.signals.log_target(self.writer, signal, data)
        c = data.shape[0]
        return Sample(signal, data.to(self.device), perm, tf, grid_coords(data.shape[1:]).to(self.device),
                      target.reshape(c, -1).T.contiguous().to(self.device),
                      data.reshape(c, -1).T.contiguous().to(self.device))

    def build(self, sample, resume):
        """Model, Adam and schedule for a sample, drawn in the reference's order; a checkpoint's state
        on top when resuming."""
        a = self.args
        model = build_model(model_options(self.opts, self.model_defaults()), sample.coords.shape[1],
                            sample.data.shape[0]).to(self.device)
        lr = a.lr if a.lr is not None else default_lr(a.model_type)
        optimizer = make_adam(model, lr, fused=uses_fused_step(model, a.eager))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 0.1 ** min(it / a.num_epochs, 1))
        if resume is None:
            return Fit(model, optimizer, scheduler, 1)
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        set_rng_state(resume["rng"])  # the streams as they were after that epoch, not after this model's draws
        return Fit(model, optimizer, scheduler, resume["epoch"] + 1)

    def chunk_rows(self, sample, model, batch):
        """Rows per forward + backward pass (None: the whole batch at once): --chunk_rows, or with auto
        what the memory budget allows (trainer/memory.py); one log line when the step is chunked."""
        a = self.args
        plan = memory.chunk_plan(a.chunk_rows, batch, sample.gt.numel(), sample.gt.shape[1], sample.coords.shape[1],
                                 a.model_type, uses_fused_step(model, a.eager), a.hidden_features, a.hidden_layers,
                                 self.device, a.memory_gb)
        if plan.chunk is not None:
            self.log(f"[{sample.signal.name}] " + plan.line(batch))
        return plan.chunk

    def epoch_metrics(self, sample, model, pred, epoch):
        """Metrics at a log epoch of the prediction `pred` (None: predict the full grid), and its media."""
        with torch.inference_mode():
            rows = pred if pred is not None else predict(model, sample.coords, self.eval_rows)
            recon = sample.to_grid(sample.decode_rows(rows))
            metrics = self.evaluate(recon, sample.data, sample.signal, self.lpips)
            if not self.args.no_images:
                self.signals.log_media(self.writer, sample.signal, epoch, recon, sample.data)
            return metrics

    def record(self, name, epoch, metrics, scalars):
        """A log epoch's metrics into the recorder and TensorBoard, with the buffered per-step scalars."""
        self.recorder.record(name, epoch, metrics)
        for k, v in metrics.items():
            if isinstance(v, float) and math.isfinite(v):
                self.writer.add_scalar(f"{name}/eval/{k}", v, global_step=epoch)
        self.flush_scalars(name, scalars, epoch)

    def snapshot(self, sample, fit, scalars, epoch, t0):
        """Checkpoint and results.json, with the buffered scalars written first; returns a new t0."""
        self.flush_scalars(sample.signal.name, scalars, epoch)
        self.recorder.time_s += time.time() - t0
        checkpoint.save(self.folder, epoch, sample, fit, self.opts, self.recorder, self.log)
        self.recorder.save(self.folder)
        return time.time()

    # ---- logging --------------------------------------------------------------------------------
    def flush_scalars(self, name, scalars, epoch):
        write_step_scalars(self.writer, name, scalars, epoch)

    def log_transform(self, signal, data, target, tf):
        """The paper's key figure: the data's histogram before and after the transform."""
        name = signal.name
        self.writer.add_histogram(f"{name}/data/before", data.flatten(), 0, bins=256)
        self.writer.add_histogram(f"{name}/data/after_{self.args.transform}", target.flatten(), 0, bins=256)
        self.writer.add_text(f"{name}/transform", "    " + json.dumps({"transform": tf.name, **tf.params}), 0)


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
