"""From (experiment id, parameter-set name) to main.py options: an explicit registry, no eval. Every
task runs with --up_folder_name <id>_<name> and --tag <set>: log/<id>_<name>/<set>_<time>_<random>/.
"""
import os

from config import ABLATIONS, EXPERIMENTS, PROTOCOLS, ROWS
from opt import group_options
from util.errors import OptionError


class UnknownTask(OptionError):
    """An experiment id or parameter set that config.py does not name."""


def _backbone(param_set):
    model, row = param_set.split("-", 1)
    return {"model_type": model, **ROWS[row]}


def _ablation(param_set):
    return {"transform": "sym_power", **ABLATIONS[param_set]}


def _protocol(param_set):
    row, protocol = param_set.split("@", 1)
    return {**ROWS[row], **PROTOCOLS[protocol]}


# An experiment's kind (config.Experiment.kind) -> how one of its parameter sets becomes options.
BUILDERS = {"rows": lambda name: dict(ROWS[name]), "backbones": _backbone, "ablations": _ablation,
            "protocols": _protocol}


def check_experiment(exp):
    if exp not in EXPERIMENTS:
        raise UnknownTask(f"unknown experiment id '{exp}' (valid: {', '.join(EXPERIMENTS)})")


def task_options(exp, param_set):
    """Ordered option dict of one task; a store_true option has value True."""
    check_experiment(exp)
    e = EXPERIMENTS[exp]
    if param_set not in e.sets:
        raise UnknownTask(f"unknown parameter set '{param_set}' for experiment {exp} (valid: {', '.join(e.sets)})")
    opts = {"model_type": "siren", "input_path": e.input_path, "signal_type": e.signal_type}
    if e.signal_type == "image":
        # As the published manager: its LPIPS network is built before the model, so the model's initial
        # weights are drawn after it (protocol.md). Audio has no LPIPS, and the video trainer computes
        # none: there it would only move the draws.
        opts["eval_lpips"] = True
    opts.update(BUILDERS[e.kind](param_set))
    opts.update({"up_folder_name": f"{exp}_{e.name}", "tag": param_set})
    return opts


def set_defining_options(exp):
    """The options that make a parameter set of `exp` what its name promises (transform, backbone, tag, what its
    sets differ by): run.py refuses them after `--`, where a row would show a fit its name does not describe."""
    e = EXPERIMENTS[exp]
    varied = {k for s in e.sets for k in BUILDERS[e.kind](s)}
    return set(group_options("transform")) | {"model_type", "tag"} | varied


def to_argv(opts):
    """['--name', 'value', ...]; store_true options bare (--inverse, --rpp)."""
    argv = []
    for k, v in opts.items():
        if v is True:
            argv.append(f"--{k}")
        elif v is not False and v is not None:
            argv += [f"--{k}", str(v)]
    return argv
