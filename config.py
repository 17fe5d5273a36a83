"""The table of named experiments: experiment id -> parameter-set names (PARAM_SETS), its folder
name and its input. Inputs are paths relative to the repository (data/download.py fetches them).

To add an experiment: give it an id in PARAM_SETS and EXPERIMENTS here, then its option builder in
manager.EXPERIMENT_OPTIONS.
"""
from components.transform import ROWS

TABLE1_ROWS = tuple(ROWS)  # 01_norm, z_score, gamma_0.5, gamma_2.0, scale_*, inverse, rpp, box_cox, sym_power
BACKBONES = ("siren", "finer", "wire", "gauss", "pemlp")
AUDIO_ROWS = ("01_norm", "z_score", "scale_1.0", "box_cox", "sym_power", "gamma_0.5", "gamma_2.0")

PARAM_SETS = {
    "000": ("sym_power",),
    "001": TABLE1_ROWS,
    "002": tuple(f"{m}-{r}" for m in BACKBONES for r in ("scale_1.0", "sym_power")),
    "003": ("full", "no_calibration", "no_soft_boundary", "fixed_buffer_0.01", "median_only", "boundary_2",
            "boundary_10"),
    "004": AUDIO_ROWS,
    "005": ("scale_1.0", "sym_power"),
    "006": TABLE1_ROWS,
    "007": TABLE1_ROWS,
}

# id -> (folder name under log/, input path, signal type)
EXPERIMENTS = {
    "000": ("demo", "data/div2k/test_data/00.png", "image"),
    "001": ("trans", "data/div2k/test_data", "image"),
    "002": ("backbones", "data/div2k/test_data", "image"),
    "003": ("ablation", "data/div2k/test_data", "image"),
    "004": ("audio", "data/libri_test_clean_121726", "audio"),
    "005": ("video", "builtin:astronaut_pan", "video"),
    "006": ("kodak", "data/Kodak", "image"),
    "007": ("text", "data/text/test_data", "image"),
}
