"""Learning-rate schedules: the factor on --lr after `t` of `T` epochs (a LambdaLR stepped once per
epoch). decay is the published trainer's; constant is the authors' later EVOS-INR baseline's
(docs/protocol.md).
"""

LR_SCHEDULES = {  # the first is the default (opt.py): the published behaviour, which a run folder or
    # checkpoint without the option ran
    "decay": lambda t, T: 0.1 ** min(t / T, 1),
    "constant": lambda t, T: 1.0,
}
