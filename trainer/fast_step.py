"""The training step: forward, MSE, the per-step PSNR scalar, log-epoch metrics, backward, Adam, schedule.

For SIREN (the paper's backbone) the forward and backward are written out by hand into buffers
that live as long as the fit. A plain autograd step spends most of its time outside the matrix
products: it allocates a fresh (N, 256) tensor for every product, omega multiplication, sine and
cosine (268 MB each at 512 x 512, page-faulted in anew each step), and makes separate passes for
omega, sine, the sine's derivative and the chain rule. The fused step instead

- folds omega into the weights (omega * W, omega * b: 256 x 256 work instead of N x 256),
- writes each layer's product u into its own buffer and its sine into another,
- in backward overwrites u with cos(u) * upstream gradient in one pass and feeds it straight to
  the two products of the layer,

so the step is the nine large products plus one sine pass and one cosine-multiply pass per layer.
Both passes are compiled kernels (torch.compile, writing in place: no allocation) for runs of
COMPILE_MIN_EPOCHS epochs or more: on the CPU about 4x faster than torch.sin / torch.cos, with
the same values to 1 ulp. Compilation is paid once per process (inductor also caches it on disk)
and logged; where it cannot run (no C++ compiler, an unsupported backend) the step warns once and
uses eager kernels.
Its result is the autograd step's up to float rounding (tests/test_speed.py checks gradients and
PSNR). Other backbones, or --eager, use the plain autograd step. Nothing here waits for the host:
the loss and PSNR come back as device tensors.
"""
import logging
import time

import torch
import torch.nn.functional as F

from models import Siren

COMPILE_MIN_EPOCHS = 50


def _sin_into(u, out):
    """out <- sin(u)."""
    out.copy_(torch.sin(u))


def _cos_mul_(u, g):
    """u <- cos(u) * g: the chain rule through sin, written over the pre-activation."""
    u.copy_(torch.cos(u) * g)


def _sin_into_eager(u, out):
    torch.sin(u, out=out)


def _cos_mul_eager(u, g):
    torch.cos(u, out=u)
    u.mul_(g)


class Kernel:
    """One elementwise kernel, compiled on first use; eager (with one warning) if it cannot be."""

    def __init__(self, fn, eager_fn, compile_kernel, log=print):
        self.eager_fn, self.log = eager_fn, log
        self.fn = torch.compile(fn, dynamic=False, fullgraph=True) if compile_kernel else eager_fn
        self.pending = compile_kernel

    def __call__(self, *tensors):
        if not self.pending:
            return self.fn(*tensors)
        self.pending = False
        t0 = time.perf_counter()
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # "no CUDA runtime" noise
        try:  # compilation fails before the kernel touches its inputs, so eager can take over on them
            self.fn(*tensors)
            self.log(f"compiled {self.eager_fn.__name__.replace('_eager', '')} in {time.perf_counter() - t0:.1f} s")
        except Exception as e:  # no compiler, unsupported device ...: stay correct, just slower
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            self.log(f"warning: torch.compile unavailable ({type(e).__name__}: {first}); using eager kernels")
            self.fn = self.eager_fn
            self.fn(*tensors)


class FusedSiren:
    """Loss and parameter gradients of an MSE fit of a Siren, computed by hand."""

    def __init__(self, model, compile_kernels=False, log=print):
        self.sin_into = Kernel(_sin_into, _sin_into_eager, compile_kernels, log)
        self.cos_mul_ = Kernel(_cos_mul_, _cos_mul_eager, compile_kernels, log)
        self.sine = [(layer.linear.weight, layer.linear.bias, float(layer.omega)) for layer in model.net[:-1]]
        self.final = model.net[-1]
        self.rows = None

    def _buffers(self, n, like):
        if self.rows != n:
            width = [w.shape[0] for w, _, _ in self.sine]
            self.act = [torch.empty(n, h, device=like.device, dtype=like.dtype) for h in width]
            self.pre = [torch.empty(n, h, device=like.device, dtype=like.dtype) for h in width]
            self.grad = torch.empty(n, max(width), device=like.device, dtype=like.dtype)
            self.rows = n

    def __call__(self, coords, gt):
        """Prediction (a buffer, valid until the next call) and loss; gradients land in p.grad."""
        n = coords.shape[0]
        self._buffers(n, gt)
        scaled = []
        x = coords
        with torch.no_grad():
            for (w, b, omega), act, pre in zip(self.sine, self.act, self.pre):
                ws, bs = w * omega, b * omega
                scaled.append(ws)
                torch.addmm(bs, x, ws.t(), out=pre)  # u = omega * (W x + b), kept for backward
                self.sin_into(pre, act)
                x = act
            pred = torch.addmm(self.final.bias, x, self.final.weight.t())
            resid = pred - gt
            loss = resid.pow(2).mean()
            g = resid.mul_(2.0 / resid.numel())  # d loss / d pred
            self.final.weight.grad = g.t() @ x
            self.final.bias.grad = g.sum(0)
            upstream = torch.mm(g, self.final.weight, out=self.grad[:, :self.final.weight.shape[1]])
            for i in range(len(self.sine) - 1, -1, -1):
                w, b, omega = self.sine[i]
                gz = self.pre[i]
                self.cos_mul_(gz, upstream)  # d loss / d u, over u
                inp = self.act[i - 1] if i > 0 else coords
                w.grad = (gz.t() @ inp).mul_(omega)
                b.grad = gz.sum(0).mul_(omega)
                if i > 0:
                    upstream = torch.mm(gz, scaled[i], out=self.grad[:, :scaled[i].shape[1]])
        return pred, loss


def make_step(model, optimizer, scheduler, decode_rows, peak, eager=False, num_epochs=0, log=print):
    """step(coords, gt, ref, on_log) -> (loss, psnr, metrics or None), all without a host sync."""
    fused = None
    if isinstance(model, Siren) and not eager:
        fused = FusedSiren(model, num_epochs >= COMPILE_MIN_EPOCHS, log)

    def forward_backward(coords, gt, on_log):
        if fused is not None:
            pred, loss = fused(coords, gt)
            return pred, loss, _after_forward(pred, on_log)
        pred = model(coords)
        loss = F.mse_loss(pred, gt)
        extra = _after_forward(pred.detach(), on_log)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return pred, loss.detach(), extra

    def _after_forward(pred, on_log):
        with torch.no_grad():
            # Metrics describe the model before this step's update, as the reference logs them.
            return on_log(pred) if on_log is not None else None

    def step(coords, gt, ref, on_log=None):
        pred, loss, metrics = forward_backward(coords, gt, on_log)
        with torch.no_grad():
            psnr = 20 * torch.log10(peak / torch.sqrt(F.mse_loss(decode_rows(pred.detach()), ref)))
        optimizer.step()
        scheduler.step()
        return loss, psnr, metrics

    return step
