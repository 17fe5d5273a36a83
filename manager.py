"""From (experiment id, parameter-set name) to main.py options: an explicit registry, no eval.

Every task runs with --up_folder_name <id>_<name> and --tag <parameter set>, so
log/<id>_<name>/<set>_<time>_<random>/ identifies each run.
"""
import os

from components.transform import ROWS
from config import EXPERIMENTS, PARAM_SETS
from util.errors import OptionError

ABLATIONS = {
    "full": {},
    "no_calibration": {"pn_beta": 0},
    "no_soft_boundary": {"pn_buffer": 0},
    "fixed_buffer_0.01": {"pn_buffer": 0.01},
    "median_only": {"pn_beta": 0, "pn_buffer": 0},
    "boundary_2": {"gamma_boundary": 2},
    "boundary_10": {"gamma_boundary": 10},
}


class UnknownTask(OptionError):
    """An experiment id or parameter set that config.py does not name."""


def _row(name):
    return dict(ROWS[name])


def _backbone(param_set):
    model, row = param_set.split("-", 1)
    return {"model_type": model, **_row(row)}


def _ablation(param_set):
    return {"transform": "sym_power", **ABLATIONS[param_set]}


# Experiment id -> parameter set -> options beyond the experiment's input and signal type.
EXPERIMENT_OPTIONS = {
    "000": _row,
    "001": _row,
    "002": _backbone,
    "003": _ablation,
    "004": _row,
    "005": _row,
    "006": _row,
    "007": _row,
}


def check_experiment(exp):
    if exp not in PARAM_SETS:
        raise UnknownTask(f"unknown experiment id '{exp}' (valid: {', '.join(PARAM_SETS)})")


def task_options(exp, param_set):
    """Ordered option dict of one task; a store_true option has value True."""
    check_experiment(exp)
    if param_set not in PARAM_SETS[exp]:
        raise UnknownTask(f"unknown parameter set '{param_set}' for experiment {exp} "
                          f"(valid: {', '.join(PARAM_SETS[exp])})")
    name, input_path, signal_type = EXPERIMENTS[exp]
    opts = {"model_type": "siren", "input_path": input_path, "signal_type": signal_type}
    opts.update(EXPERIMENT_OPTIONS[exp](param_set))
    if signal_type != "video" and not os.path.splitext(input_path)[1] and not input_path.startswith("builtin:"):
        opts["multi_data"] = True  # a folder: fit every sample in it
    opts.update({"up_folder_name": f"{exp}_{name}", "tag": param_set})
    return opts


def to_argv(opts):
    """['--name', 'value', ...]; store_true options bare (--inverse, --rpp, --multi_data)."""
    argv = []
    for k, v in opts.items():
        if v is True:
            argv.append(f"--{k}")
        elif v is not False and v is not None:
            argv += [f"--{k}", str(v)]
    return argv


def experiment_folder(exp):
    check_experiment(exp)
    return f"{exp}_{EXPERIMENTS[exp][0]}"
