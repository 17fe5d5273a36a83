"""The fitting loop, one for every modality: transform, model, Adam, schedule, metrics, checkpoints.
The loop is the reference's (protocol.md); what differs between images, audio and video is the
modality's record (components/signals.py's MODALITIES). Per-step scalars stay on the device and
reach TensorBoard in batches, so a step never waits for the host.
"""
import json
import math
import os
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from components import transform as T
from components.loss import LOSSES
from components.signals import Signal
from models import build_model, n_params
from trainer import checkpoint, memory
from trainer.fast_step import Kernels, Step, compiles, uses_fused_step
from trainer.memory import EVAL_CHUNK  # coordinates per forward pass outside training: bounds evaluation memory
from trainer.schedule import LR_SCHEDULES
from util.errors import InputError, OptionError
from util.io import write_json
from util.readers import PROGRESS_FILE  # what the sweep reads (sweep/status.py, sweep/queue.py)
from util.tensorboard import metric_tag


def make_adam(model, lr, fused):
    """Adam with default betas: the fused kernel with the fused SIREN step (which rounds differently anyway),
    else PyTorch's default one, as the reference's: a chaotic fit (Gauss, PE-MLP) amplifies another kernel's
    last-bit differences into tenths of a dB within 200 epochs. WIRE's complex parameters need the default."""
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
    """The buffered per-step [loss, psnr] pairs that end at `epoch` (one host transfer) as the reference's
    scalars; the buffer emptied. The reference's second copy of the loss, train/mse, is left out."""
    if not scalars:
        return
    values = torch.stack(scalars).double().cpu().tolist()
    for s, (loss, psnr) in enumerate(values, start=epoch - len(values) + 1):
        writer.add_scalar(f"{name}/train/total_loss", loss, global_step=s)
        if math.isfinite(psnr):
            writer.add_scalar(f"{name}/train/psnr", psnr, global_step=s)
    scalars.clear()


@dataclass
class Sample:
    """A signal ready to fit: the prepared data, its fitted transform, coordinate, target and data rows."""
    signal: Signal
    data: torch.Tensor  # (C, *grid), prepared, on the device
    perm: torch.Tensor  # rpp's permutation, or None
    tf: T.Transform
    coords: torch.Tensor
    gt: torch.Tensor  # transformed data rows (N, C): the training target
    ref: torch.Tensor  # data rows (N, C): what reconstructions are measured against

    def decode_rows(self, pred):
        return self.tf.inverse(pred).clamp(self.signal.nominal.lo, self.signal.nominal.hi)

    def to_grid(self, rows):
        return rows.T.reshape(*self.data.shape)


@dataclass
class Fit:
    """What trains on one sample, and the epoch it starts at (later than 1 when resumed)."""
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    start: int


def make_sample(signal, opts, device, tf=None, perm=None):
    """A Sample of `signal` and its transformed data (C, *grid) on the host; `perm` and `tf` (else drawn
    and fitted here) are a checkpoint's."""
    data, perm = T.prepare_data(signal.data, opts, signal.nominal, perm=perm)  # draws rpp's permutation
    try:
        if tf is None:
            tf = T.build(opts, signal.nominal.levels, signal.nominal.lo).fit(data)
        target = tf.forward(data)
    except T.TransformError as e:  # the library's own error: this data or these options cannot be used
        raise InputError(f"{signal.name}: {e}") from None
    c = data.shape[0]
    sample = Sample(signal, data.to(device), perm, tf, grid_coords(data.shape[1:]).to(device),
                    target.reshape(c, -1).T.contiguous().to(device), data.reshape(c, -1).T.contiguous().to(device))
    return sample, target


class Trainer:
    def __init__(self, run, lpips=None, interrupt=None):
        """`run`: a trainer.fit.Run (options, folder, log, writer, recorder, device, modality)."""
        self.args, self.opts, self.modality = run.args, vars(run.args), run.modality
        self.folder, self.log, self.writer, self.recorder = run.folder, run.log, run.writer, run.recorder
        self.device, self.lpips = run.device, lpips
        self.interrupt = interrupt  # a util.interrupt.DeferredInterrupt: a stop comes between epochs
        self.signals = run.modality.io
        # shared by the samples: one compilation (for those that compile: fast_step.compiles)
        self.kernels, self.samples = Kernels(True, self.log), len(run.samples)
        if self.args.model_type == "siren" and not self.args.eager and LOSSES[self.args.loss].grad is None:
            self.log(f"--loss {self.args.loss} gives no gradient for SIREN's fused step: the autograd step trains")

    # ---- the loop -------------------------------------------------------------------------------
    def fit(self, path, resume=None):
        """Fit one sample; `resume` is a checkpoint dict of this sample to continue from."""
        sample = self.prepare(path, resume)
        fit = self.build(sample, resume)
        name, num_epochs, n = sample.signal.name, self.args.num_epochs, sample.coords.shape[0]
        batch = self.modality.batch(self.args.batch_size, n)
        self.log(f"[{name}] {self.args.model_type}, {n_params(fit.model)} parameters, lr "
                 f"{fit.optimizer.defaults['lr']:g} ({self.args.lr_schedule}), {self.args.loss} loss, {batch} of {n} "
                 f"coordinates per step, {num_epochs} epochs")
        chunk = self.chunk_rows(sample, fit.model, batch)
        self.eval_rows = EVAL_CHUNK if chunk is None else min(EVAL_CHUNK, chunk)
        a = self.args
        kernels = self.kernels if compiles(self.device, num_epochs, min(batch, n), a.hidden_features, a.hidden_layers,
                                           self.samples) else None  # None: Step's eager kernels
        step = Step(fit.model, fit.optimizer, fit.scheduler, sample.decode_rows, self.modality.peak(sample.ref),
                    eager=a.eager, kernels=kernels, chunk=chunk, loss=a.loss)
        scalars, t0 = [], time.time()
        bar = Progress(name, fit.start, num_epochs, quiet=self.args.quiet, log=self.log,
                       path=os.path.join(self.folder, PROGRESS_FILE))
        for epoch in range(fit.start, num_epochs + 1):
            if self.interrupt is not None and self.interrupt.requested:  # Ctrl-C, SIGTERM, SIGUSR1/2
                if epoch > fit.start:  # what was trained since the last checkpoint is kept
                    self.snapshot(sample, fit, scalars, epoch - 1, t0)
                bar.write()  # progress.json: the epoch reached, not its last 20-second line (run.py --status)
                self.interrupt.check()
            idx = None if batch >= n else torch.randint(n, (batch,), device=self.device)
            rows = (sample.coords, sample.gt, sample.ref)
            coords, gt, ref = rows if idx is None else (r[idx] for r in rows)
            pred, loss = step.forward_backward(coords, gt)
            scalars.append(torch.stack([loss, step.psnr(pred, ref)]))
            is_log = epoch % self.args.log_epoch == 0 or epoch == num_epochs
            if is_log:  # before the update: metrics describe the model that made `pred`
                metrics = self.epoch_metrics(sample, fit.model, pred if idx is None else None, epoch)
                # the MSE whatever the loss (the loss itself when it is the MSE: the published number, no pass)
                metrics["mse"] = float(loss if self.args.loss == "mse" else F.mse_loss(pred, gt))
                self.check_finite(name, scalars, epoch, math.isfinite(metrics["mse"]))
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
        self.check_finite(name, scalars, num_epochs, bool(torch.isfinite(recon).all()))
        self.signals.save_prediction(self.folder, sample.signal,
                                     T.restore_data(recon.cpu(), self.opts, sample.signal.nominal, sample.perm), self.log)
        self.recorder.finish(name)
        self.snapshot(sample, fit, scalars, num_epochs, t0)
        return self.recorder.samples.get(name, {})

    def prepare(self, path, resume):
        """Read, prepare (inverse / rpp) and transform one sample; log the transform."""
        a = self.args
        signal = self.signals.read(path, self.opts, self.log)
        stored_perm = resume["prepare"]["perm"] if resume is not None else None
        sample, target = make_sample(signal, self.opts, self.device, perm=stored_perm)
        if not torch.isfinite(target).all():
            raise InputError(f"{path}: the {a.transform} transform gives non-finite values on this data")
        self.recorder.describe(signal.name, T.attributes(target), signal.data.shape, self.signals.error_scale(signal))
        data = sample.data.cpu()
        self.log(f"[{signal.name}] {tuple(data.shape)} {a.transform}: " + json.dumps(sample.tf.params))
        if resume is None:  # logged once: a resumed run has them in its first events file
            self.log_transform(signal, data, target, sample.tf)
            if not a.no_images:
                self.signals.log_target(self.writer, signal, data)
        else:  # what the checkpoint saved of the signal (an audio clip's rate)
            signal.meta = {**resume["signal"].get("meta", {}), **signal.meta}
        return sample

    def build(self, sample, resume):
        """Model, Adam and schedule, drawn in the reference's order; a checkpoint's state on top if resuming."""
        a = self.args
        # resumed, its weights come from the checkpoint: their first draws must not move the restored generators
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, enabled=resume is not None):
            model = build_model(self.opts, sample.coords.shape[1], sample.data.shape[0]).to(self.device)
        optimizer = make_adam(model, a.lr, fused=uses_fused_step(model, a.eager, a.loss))
        factor = LR_SCHEDULES[a.lr_schedule]
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: factor(it, a.num_epochs))
        if resume is None:
            return Fit(model, optimizer, scheduler, 1)
        for key, obj in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler)):
            obj.load_state_dict(resume[key])
        return Fit(model, optimizer, scheduler, resume["epoch"] + 1)

    def chunk_rows(self, sample, model, batch):
        """Rows per forward + backward pass (None: the whole batch): --chunk_rows, or auto's (memory.py)."""
        a = self.args
        plan = memory.chunk_plan(a.chunk_rows, batch, sample.gt.numel(), sample.gt.shape[1], sample.coords.shape[1],
                                 a.model_type, uses_fused_step(model, a.eager, a.loss), a.hidden_features,
                                 a.hidden_layers, self.device, a.memory_gb)
        for line in (plan.note, plan.line(batch) if plan.chunk is not None else None):
            if line:
                self.log(f"[{sample.signal.name}] {line}")
        return plan.chunk

    def epoch_metrics(self, sample, model, pred, epoch):
        """Metrics at a log epoch of the prediction `pred` (None: predict the full grid), and its media."""
        with torch.inference_mode():
            rows = pred if pred is not None else predict(model, sample.coords, self.eval_rows)
            recon = sample.to_grid(sample.decode_rows(rows))
            metrics = self.modality.evaluate(recon, sample.data, sample.signal, self.lpips)
            if not self.args.no_images:
                self.signals.log_media(self.writer, sample.signal, epoch, recon, sample.data, metrics.get("psnr"))
            return metrics

    def record(self, name, epoch, metrics, scalars):
        """A log epoch's metrics into the recorder and TensorBoard, with the buffered per-step scalars."""
        self.recorder.record(name, epoch, metrics)
        for k, v in metrics.items():
            if isinstance(v, float) and math.isfinite(v):
                self.writer.add_scalar(f"{name}/eval/{metric_tag(k)}", v, global_step=epoch)
        self.flush_scalars(name, scalars, epoch)

    def snapshot(self, sample, fit, scalars, epoch, t0):
        """Checkpoint and results.json, the buffered scalars first (a diverged model is never saved); a new t0."""
        params = [p.detach() for p in fit.model.parameters()]
        self.check_finite(sample.signal.name, scalars, epoch, bool(torch.stack([p.isfinite().all() for p in params]).all()))
        self.flush_scalars(sample.signal.name, scalars, epoch)
        self.recorder.add_time(time.time() - t0)
        checkpoint.save(self.folder, epoch, sample, fit, self.opts, self.recorder, self.log)
        self.recorder.save(self.folder)
        return time.time()

    def check_finite(self, name, scalars, epoch, finite):
        """Stop a diverged fit (a loss, weight or prediction not finite) with one line naming the first
        epoch whose loss was not finite; checked where the loop already waits for the device."""
        if finite:
            return
        first = epoch
        if scalars:  # the buffered per-step losses since the last flush end at `epoch`
            bad = (~torch.isfinite(torch.stack(scalars)[:, 0])).nonzero()
            first = epoch - len(scalars) + 1 + int(bad[0]) if len(bad) else epoch
        raise OptionError(f"[{name}] the fit diverged at epoch {first} (loss or prediction not finite); "
                          f"try a lower --lr (this run's is {self.args.lr:g})")

    # ---- logging --------------------------------------------------------------------------------
    def flush_scalars(self, name, scalars, epoch):
        write_step_scalars(self.writer, name, scalars, epoch)

    def log_transform(self, signal, data, target, tf):
        """The paper's key figure: the data's histogram before and after the transform on bins matching the
        data's levels (util/plot.py), one tag for every transform (a sweep's runs share the card); the
        inspector's figure (components.transform --plot); the fitted parameters as a table."""
        from util.plot import transform_figure, transform_histograms
        from util.folders import seed_free_tag

        name, a = signal.name, self.args
        counts, before, after = transform_histograms(data, tf)
        for tag, values, edges in (("before", data, before), ("after", target, after)):
            v = values.detach().flatten().double()
            # at the first and the last epoch: the data do not change, and with one step the
            # Distributions tab would draw an empty chart; with two it draws their constant percentiles
            for step in (0, a.num_epochs):
                self.writer.add_histogram_raw(f"{name}/data/{tag}", float(v.min()), float(v.max()), v.numel(),
                                              float(v.sum()), float((v * v).sum()), edges[1:].tolist(),
                                              counts.tolist(), step)
        row = seed_free_tag(a.tag, a.seed)
        row = a.transform if row == a.transform else f"{row} ({a.transform})"
        if not a.no_images:
            self.writer.add_figure(f"{name}/data/transform", transform_figure([(name, data.cpu(), target.cpu(), tf)],
                                                                              row), 0)
        self.writer.add_text(f"{name}/transform", transform_table(row, tf), 0)


def transform_table(row, tf):
    """The fitted parameters as a markdown table (4 significant digits), and what the loss means."""
    lines = [f"**{row}**", "", "| parameter | value |", "|---|---|"]  # row: the set (and transform)
    lines += [f"| {k} | {'-' if v is None else f'{v:.4g}'} |" for k, v in tf.params.items()]
    return "\n".join(lines + ["", "train/total_loss (the --loss) and eval/mse_transformed: in this transform's own "
                                   "domain, not comparable across transforms (eval/psnr is)."])


PROGRESS_EVERY_S = 20  # a plain progress line (and progress.json) this often; a bar on a terminal


class Progress:
    """What a fit is doing, from its first seconds (the first step compiles): a tqdm bar on a terminal or a plain
    line every PROGRESS_EVERY_S seconds, the metrics at every log epoch; the same as data in `path` (progress.json)
    for other processes. Only the host's clock is read: no step waits for the device because of it."""

    def __init__(self, name, start, total, quiet, log, path=None):
        self.name, self.start, self.total, self.log, self.path = name, start, total, log, path
        plain = quiet or not sys.stderr.isatty()
        self.bar = None if plain else tqdm(total=total, initial=start - 1, desc=name, dynamic_ncols=True,
                                           file=sys.stderr)
        self.epoch, self.t0 = start - 1, time.monotonic()
        self.first_done = self.last_line = None  # host times: the first step done, the last plain line
        self.psnr = None  # (psnr, its epoch) of the last log epoch
        if self.bar is None:
            self.log(f"[{name}] training epochs {start} to {total}: a progress line every {PROGRESS_EVERY_S} s")
        self.write()

    def per_epoch(self):  # seconds since the first step (None until a second step is done)
        steps = self.epoch - self.start
        return None if self.first_done is None or steps < 1 else (time.monotonic() - self.first_done) / steps

    def eta(self):
        per = self.per_epoch()
        return None if per is None else per * (self.total - self.epoch)

    def write(self, epoch=None):
        if self.path is not None:
            psnr, at = self.psnr or (None, None)
            write_json(self.path, {"sample": self.name, "epoch": epoch or self.epoch, "of": self.total, "psnr": psnr,
                                   "psnr_epoch": at, "s_per_epoch": self.per_epoch(), "eta_s": self.eta(),
                                   "time": time.time()})

    def where(self):
        eta = self.eta()
        return f"epoch {self.epoch}/{self.total} ({100 * self.epoch / self.total:.0f}%), " \
               f"{format_s(time.monotonic() - self.t0)} elapsed, eta {'n/a' if eta is None else format_s(eta)}"

    def update(self):
        self.epoch += 1
        now = time.monotonic()
        if self.first_done is None:
            self.first_done = self.last_line = now
            self.log(f"[{self.name}] epoch {self.epoch} done in {now - self.t0:.1f} s (the first step compiles, "
                     f"if it does); the rest gives the eta")
        if self.bar is not None:
            self.bar.update()
        if now - self.last_line >= PROGRESS_EVERY_S and self.epoch < self.total:
            self.last_line = now
            self.write()
            if self.bar is None:
                self.log(f"[{self.name}] {self.where()}")

    def log_epoch(self, epoch, metrics):
        psnr = metrics.get("psnr")
        shown = " ".join(f"{k} {v:.5g}" for k, v in metrics.items() if isinstance(v, float))
        if self.bar is not None:
            self.bar.set_postfix(psnr=f"{psnr:.2f}" if psnr is not None else "n/a")
        eta = self.eta()
        self.log(f"[{self.name}] epoch {epoch}/{self.total}: {shown}"
                 + ("" if eta is None else f" (eta {format_s(eta)})"))
        self.psnr = (psnr if psnr is not None and math.isfinite(psnr) else None, epoch)
        self.write(epoch)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def format_s(seconds):
    """12 s, 3 min 05 s, 2 h 07 min."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
