"""Learning-rate schedules: the factor on --lr after `t` of `T` epochs, as a LambdaLR stepped once
per epoch (trainer/base_trainer.py). Importing this loads no torch, so that opt.py can list the names.

decay is the published trainer's (protocol.md): lr * 0.1 ** (t / T), a tenth of --lr at the last
epoch. constant keeps --lr to the end: the same authors' later repository (zwx-open/EVOS-INR) builds
the same scheduler but never steps it, so its full-batch "Standard" baseline trains at a constant lr
(docs/protocol.md).
"""

LR_SCHEDULES = {  # the first is the default (opt.py): the published behaviour, which a run folder or
    # checkpoint without the option ran
    "decay": lambda t, T: 0.1 ** min(t / T, 1),
    "constant": lambda t, T: 1.0,
}
