"""The table of named experiments: one entry per experiment id, and nothing else to edit to add one:

    "999": Experiment("my_idea", "data/div2k/test_data", "image", "rows", ("scale_1.0", "sym_power")),

then `python run.py 999` runs it and `python summarize.py log/999_my_idea` tabulates it. The
parameter sets are plain option presets, so listing a sweep imports no torch.
"""
from typing import NamedTuple

from components.rows import ROWS  # Table 1's rows: the parameter sets of the "rows" experiments

# Ablations of sym-power (experiment 003) -> the options they change from the sym_power row.
ABLATIONS = {
    "full": {},
    "no_calibration": {"pn_beta": 0},
    "no_soft_boundary": {"pn_buffer": 0},
    "fixed_buffer_0.01": {"pn_buffer": 0.01},
    "median_only": {"pn_beta": 0, "pn_buffer": 0},
    "boundary_2": {"gamma_boundary": 2},
    "boundary_10": {"gamma_boundary": 10},
}


# Training protocols (experiment 008) -> the options that set them; each names its schedule and lr.
PROTOCOLS = {
    "decay_1e-4": {"lr_schedule": "decay", "lr": 1e-4},  # the published trainer (Table 1; protocol.md)
    "constant_1e-4": {"lr_schedule": "constant", "lr": 1e-4},  # the authors' later EVOS-INR "Standard" baseline
    "decay_5e-4": {"lr_schedule": "decay", "lr": 5e-4},  # FINER's scripts' SIREN lr on the same images
}


class Experiment(NamedTuple):
    name: str  # folder under log/: <id>_<name>
    input_path: str
    signal_type: str
    kind: str  # rows (Table 1 rows), backbones (<model>-<row>), ablations (ABLATIONS) or protocols (<row>@<protocol>)
    sets: tuple


TABLE1_ROWS = tuple(ROWS)  # 01_norm, z_score, gamma_0.5, gamma_2.0, scale_*, inverse, rpp, box_cox, sym_power
BACKBONES = ("siren", "finer", "wire", "gauss", "pemlp")
AUDIO_ROWS = ("01_norm", "z_score", "scale_1.0", "box_cox", "sym_power", "gamma_0.5", "gamma_2.0")
ABLATION_SETS = tuple(ABLATIONS)
PROTOCOL_SETS = tuple(f"{r}@{p}" for p in PROTOCOLS for r in ("scale_1.0", "sym_power"))

EXPERIMENTS = {
    "000": Experiment("demo", "data/div2k/test_data/00.png", "image", "rows", ("sym_power",)),
    "001": Experiment("trans", "data/div2k/test_data", "image", "rows", TABLE1_ROWS),
    "002": Experiment("backbones", "data/div2k/test_data", "image", "backbones",
                      tuple(f"{m}-{r}" for m in BACKBONES for r in ("scale_1.0", "sym_power"))),
    "003": Experiment("ablation", "data/div2k/test_data", "image", "ablations", ABLATION_SETS),
    "004": Experiment("audio", "data/libri_test_clean_121726", "audio", "rows", AUDIO_ROWS),
    "005": Experiment("video", "builtin:astronaut_pan", "video", "rows", ("scale_1.0", "sym_power")),
    "006": Experiment("kodak", "data/Kodak", "image", "rows", TABLE1_ROWS),
    "007": Experiment("text", "data/text/test_data", "image", "rows", TABLE1_ROWS),
    "008": Experiment("protocols", "data/div2k/test_data", "image", "protocols", PROTOCOL_SETS),
}

PARAM_SETS = {exp_id: e.sets for exp_id, e in EXPERIMENTS.items()}  # id -> parameter-set names
