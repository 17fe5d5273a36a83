"""The training step: forward, the loss (--loss), the per-step PSNR scalar, log-epoch metrics, backward, Adam, schedule.

For SIREN (the paper's backbone) forward and backward are written out by hand into buffers that live as long
as the fit: omega folded into the weights, one sine pass per layer forward and one cosine-times-gradient pass
backward (the narrow first and final products done inside those passes), so the step is the large products plus
those passes (docs/performance.md). The passes are compiled once per run for any number of rows (dynamic shapes:
a folder of many sizes would otherwise hit dynamo's recompile limit) where that pays: fits of COMPILE_MIN_EPOCHS
epochs or more, and on a CPU of COMPILE_MIN_PASSES element passes or more (`compiles`); where compilation fails
the step warns once and uses eager kernels. The result is the autograd step's up to float rounding for every
loss (tests/test_speed.py). Other backbones, --eager, or a loss without a gradient use the plain autograd step.
Nothing here waits for the host: the loss and PSNR come back as device tensors.
"""
import logging
import time

import torch
import torch.nn.functional as F

from models import Siren
from components.loss import LOSSES

COMPILE_MIN_EPOCHS = 50
# On a CPU compiling takes 3 s or more (inductor's disk cache warm) and the compiled passes save about 2 ns per
# element pass (64^2 to 256^2, SIREN 3x256; docs/performance.md): below this many passes eager is sooner
COMPILE_MIN_PASSES = 2e9
SPLIT_ROWS = 1024  # column sums on a GPU: partial sums over blocks of this many rows first


def column_sum(x):
    """x.sum(0) of an (N, C) buffer: a bias gradient. On a GPU first over blocks of SPLIT_ROWS rows:
    ATen's one-pass column reduction of a tall buffer has few blocks to spread over the device."""
    n = x.shape[0] // SPLIT_ROWS * SPLIT_ROWS
    if x.device.type != "cuda" or n == 0:
        return x.sum(0)
    parts = x[:n].view(-1, SPLIT_ROWS, x.shape[1]).sum(1)
    return parts.sum(0) + x[n:].sum(0) if n < x.shape[0] else parts.sum(0)


# Each kernel is one pass over (N, width) memory, writing in place. The first layer's product
# (2 or 3 inputs) is done inline, so its pre-activation is never stored: backward recomputes it.

def _first_pre(x, wt, b):
    """x wt + b, wt = the first layer's (in, width) weight: a few multiply-adds per element."""
    return b + sum(x[:, c:c + 1] * wt[c] for c in range(x.shape[1]))


def _first_sin(x, wt, b, out):
    out.copy_(torch.sin(_first_pre(x, wt, b)))


def _first_sin_eager(x, wt, b, out):
    torch.addmm(b, x, wt, out=out)
    torch.sin(out, out=out)


def _first_cos_mul(x, wt, b, g):
    """g <- cos(x wt + b) * g: the chain rule through the first sine, its pre-activation recomputed."""
    g.copy_(torch.cos(_first_pre(x, wt, b)) * g)


def _first_cos_mul_eager(x, wt, b, g):
    g.mul_(torch.addmm(b, x, wt).cos_())


def _sin_into(u, out):
    out.copy_(torch.sin(u))


def _sin_into_eager(u, out):
    torch.sin(u, out=out)


def _cos_mul(u, g):
    """u <- cos(u) * g: the chain rule through sin, written over the pre-activation."""
    u.copy_(torch.cos(u) * g)


def _cos_mul_eager(u, g):
    torch.cos(u, out=u)
    u.mul_(g)


def _last_cos_mul(u, g, w):
    """u <- cos(u) * (g w): the final linear layer's input gradient (g: N x out, out = 1 or 3) formed
    inline, not as an (N, width) product written out and read back."""
    u.copy_(torch.cos(u) * sum(g[:, o:o + 1] * w[o] for o in range(w.shape[0])))


def _last_cos_mul_eager(u, g, w):
    torch.cos(u, out=u)
    u.mul_(g @ w)


def compiles(device, epochs, rows, width, layers, samples):
    """Whether a fit uses the compiled kernels: `rows` per step, `width` x `layers` hidden units, `samples` in
    its run (one compilation serves them all). From the options and the sample only, so a resumed fit decides
    as it did."""
    passes = rows * width * layers * epochs * samples
    return epochs >= COMPILE_MIN_EPOCHS and (torch.device(device).type != "cpu" or passes >= COMPILE_MIN_PASSES)


class Kernels:
    """The step's elementwise kernels, compiled on first use; all eager (one warning) if compilation fails.
    A trainer keeps one for all its samples, so a run compiles (or warns) once."""

    PAIRS = {f.__name__.lstrip("_"): (f, e) for f, e in [
        (_first_sin, _first_sin_eager), (_first_cos_mul, _first_cos_mul_eager), (_sin_into, _sin_into_eager),
        (_cos_mul, _cos_mul_eager), (_last_cos_mul, _last_cos_mul_eager)]}

    def __init__(self, compile_kernels, log=print):
        self.log, self.eager = log, not compile_kernels
        self.compiled, self.compile_s = {}, 0.0  # name -> compiled kernel, once its first call worked

    def __getattr__(self, name):  # first_sin, cos_mul, ...: the kernel of PAIRS of that name
        if name not in Kernels.PAIRS:
            raise AttributeError(name)
        return lambda *tensors: self._call(name, *tensors)

    def _call(self, name, *tensors):
        if self.eager:
            return self.PAIRS[name][1](*tensors)
        if name in self.compiled:
            return self.compiled[name](*tensors)
        if not self.compiled:
            self.log(f"compiling the step's {len(self.PAIRS)} kernels (once per run; cached on disk for the next)")
        t0 = time.perf_counter()
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # "no CUDA runtime" noise
        try:  # compilation fails before the kernel touches its inputs, so eager can take over on them
            kernel = torch.compile(self.PAIRS[name][0], dynamic=True, fullgraph=True)
            out = kernel(*tensors)
        except Exception as e:  # no compiler, unsupported device ...: stay correct, just slower
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            self.log(f"warning: torch.compile unavailable ({type(e).__name__}: {first}); using eager kernels")
            self.eager = True
            return self.PAIRS[name][1](*tensors)
        self.compiled[name] = kernel
        self.compile_s += time.perf_counter() - t0
        if len(self.compiled) == len(self.PAIRS):
            self.log(f"compiled the step's {len(self.PAIRS)} kernels in {self.compile_s:.1f} s")
        return out


class FusedSiren:
    """Loss and parameter gradients of a fit of a Siren (one hidden layer or more), computed by hand from
    the --loss record's gradient w.r.t. the prediction."""

    def __init__(self, model, kernels, loss="mse"):
        self.k, self.loss = kernels, LOSSES[loss]
        self.sine = [(layer.linear.weight, layer.linear.bias, float(layer.omega)) for layer in model.net[:-1]]
        self.final = model.net[-1]
        self.rows = 0  # the buffers' rows: the largest batch or chunk seen, allocated once

    def _buffers(self, n, like):
        if self.rows < n:
            # act[i] = sin(u_i) feeds the next layer's products; pre[i] = u_i is kept for backward,
            # except the first layer's, which is recomputed.
            width = [w.shape[0] for w, _, _ in self.sine]
            self.act = [torch.empty(n, h, device=like.device, dtype=like.dtype) for h in width]
            self.pre = [None] + [torch.empty(n, h, device=like.device, dtype=like.dtype) for h in width[1:]]
            self.grad = torch.empty(n, max(width), device=like.device, dtype=like.dtype)
            self.rows = n
        if self.rows == n:
            return self.act, self.pre, self.grad
        # a shorter chunk (the last one) uses the first n rows: contiguous views, no allocation
        return [a[:n] for a in self.act], [None] + [u[:n] for u in self.pre[1:]], self.grad[:n]

    def __call__(self, coords, gt):
        """Prediction and loss; gradients land in p.grad."""
        with torch.no_grad():
            pred, resid, saved = self._forward(coords, gt, None)
            loss = self.loss.value(pred, gt)
            self._backward(coords, self.loss.grad(resid, 1.0 / resid.numel()), saved, accumulate=False)
        return pred, loss

    def chunk(self, coords, gt, values, out, accumulate):
        """One chunk of rows of a batch of `values` (rows x outputs) values: its prediction written into
        `out`, the gradient of the batch's loss over these rows added to p.grad (set when not `accumulate`);
        returns the chunk's sum of the loss."""
        with torch.no_grad():
            pred, resid, saved = self._forward(coords, gt, out)
            part = self.loss.value(pred, gt, reduction="sum")
            self._backward(coords, self.loss.grad(resid, 1.0 / values), saved, accumulate)
        return part

    def _forward(self, coords, gt, out):
        k, last = self.k, len(self.sine) - 1
        act, pre, grad = self._buffers(coords.shape[0], gt)
        scaled = [(w * omega, b * omega) for w, b, omega in self.sine]
        first_wt = scaled[0][0].t().contiguous()
        k.first_sin(coords, first_wt, scaled[0][1], act[0])
        for i in range(1, last + 1):
            torch.addmm(scaled[i][1], act[i - 1], scaled[i][0].t(), out=pre[i])  # u = omega (W x + b)
            k.sin_into(pre[i], act[i])
        pred = torch.addmm(self.final.bias, act[last], self.final.weight.t(), out=out)  # out: a chunk's rows
        return pred, pred - gt, (act, pre, grad, scaled, first_wt)

    def _backward(self, coords, g, saved, accumulate):
        """Parameter gradients from g = d loss / d pred (overwritten by the layers' buffers' use)."""
        k, last = self.k, len(self.sine) - 1
        act, pre, grad, scaled, first_wt = saved
        put = _add_grad if accumulate else _set_grad
        put(self.final.weight, g.t() @ act[last])
        put(self.final.bias, column_sum(g))
        k.last_cos_mul(pre[last], g, self.final.weight)  # pre[last] <- d loss / d u_last
        for i in range(last, 0, -1):
            w, b, omega = self.sine[i]
            if i < last:
                k.cos_mul(pre[i], upstream)  # pre[i] <- d loss / d u_i
            put(w, (pre[i].t() @ act[i - 1]).mul_(omega))
            put(b, column_sum(pre[i]).mul_(omega))
            upstream = torch.mm(pre[i], scaled[i][0], out=grad[:, :scaled[i][0].shape[1]])
        w, b, omega = self.sine[0]
        k.first_cos_mul(coords, first_wt, scaled[0][1], upstream)  # upstream <- d loss / d u_0
        # coords^T upstream, not upstream^T coords: the same numbers, ~9x faster on the CPU (MKL)
        put(w, (coords.t() @ upstream).t().contiguous().mul_(omega))
        put(b, column_sum(upstream).mul_(omega))


def _set_grad(p, g):
    p.grad = g


def _add_grad(p, g):
    p.grad.add_(g)


def uses_fused_step(model, eager=False, loss="mse"):
    """Whether Step trains this model with the hand-written SIREN step (else plain autograd): SIREN's own
    class only, since a class derived from it may compute something else, and a loss that gives its gradient."""
    return type(model) is Siren and len(model.net) > 2 and not eager and LOSSES[loss].grad is not None


class Step:
    """One training step in the loop's order: forward_backward, then (at a log epoch) the caller's
    metrics on the prediction, then update. With `chunk` (rows per pass) a larger batch runs chunk by
    chunk, each adding its share of the batch loss's gradient: the full-batch update up to float
    summation order, in memory bounded by the chunk; only the (rows, C) prediction is kept whole."""

    def __init__(self, model, optimizer, scheduler, decode_rows, peak, eager=False, kernels=None, chunk=None,
                 loss="mse"):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.decode_rows, self.peak, self.chunk, self.loss = decode_rows, peak, chunk, LOSSES[loss]
        self.fused = FusedSiren(model, kernels or Kernels(False), loss) if uses_fused_step(model, eager, loss) else None
        self.pred = None  # the chunked step's (rows, C) prediction, allocated once

    def forward_backward(self, coords, gt):
        """(prediction, loss) of the model before this step's update; gradients land in p.grad."""
        if self.chunk is not None and coords.shape[0] > self.chunk:
            return self._chunked(coords, gt)
        if self.fused is not None:
            return self.fused(coords, gt)
        pred = self.model(coords)
        loss = self.loss.value(pred, gt)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return pred.detach(), loss.detach()

    def _chunked(self, coords, gt):
        if self.pred is None or self.pred.shape != gt.shape:
            self.pred = torch.empty_like(gt)
        values, total = gt.numel(), None
        if self.fused is None:
            self.optimizer.zero_grad(set_to_none=True)
        for start in range(0, coords.shape[0], self.chunk):
            rows = slice(start, start + self.chunk)
            if self.fused is not None:
                part = self.fused.chunk(coords[rows], gt[rows], values, self.pred[rows], accumulate=start > 0)
            else:
                pred = self.model(coords[rows])
                part = self.loss.value(pred, gt[rows], reduction="sum")
                (part / values).backward()  # adds this chunk's share of the mean's gradient to p.grad
                with torch.no_grad():
                    self.pred[rows] = pred
                part = part.detach()
            total = part if total is None else total + part
        return self.pred, total / values

    def psnr(self, pred, ref):
        """The reference's per-step scalar: PSNR of the decoded prediction against the data rows."""
        with torch.no_grad():
            return 20 * torch.log10(self.peak / torch.sqrt(F.mse_loss(self.decode_rows(pred), ref)))

    def update(self):
        self.optimizer.step()
        self.scheduler.step()
