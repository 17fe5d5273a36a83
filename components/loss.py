"""Training losses, one record each, as a backbone is one record in models.MODELS: --loss names one.

A loss is a mean over every value of the batch (rows x outputs), so a chunked step adds the chunks'
sums and divides by the batch's count (trainer/fast_step.py). `grad` is what the fused SIREN step
starts its backward from; a record without one trains with the autograd step, whatever the backbone.
mse is the published loss (protocol.md) and the default (opt.py takes the first).
"""
from typing import Callable, NamedTuple, Optional

import torch.nn.functional as F


class Loss(NamedTuple):
    value: Callable  # (pred, y, reduction="mean") -> the loss; reduction="sum": a chunk's part of it
    grad: Optional[Callable] = None  # (r, s) -> s * d value(reduction="sum") / d pred, written over r = pred - y


LOSSES = {
    "mse": Loss(F.mse_loss, lambda r, s: r.mul_(2 * s)),
    "l1": Loss(F.l1_loss, lambda r, s: r.sign_().mul_(s)),
}
