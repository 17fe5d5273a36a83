"""Table 1's rows as transform options (protocol.md, "Options of the reference"): plain data with no
imports, so that listing a sweep loads no torch, and the transform inspector
(`python -m components.transform --transform ROW`) takes the same names."""

ROWS = {
    "01_norm": {"transform": "min_max", "trans_shift": 0.0, "trans_scale": 1.0},
    "z_score": {"transform": "z_score"},
    "gamma_0.5": {"transform": "sym_power", "gamma_trans": 0.5},
    "gamma_2.0": {"transform": "sym_power", "gamma_trans": 2.0},
    "scale_0.5": {"transform": "min_max", "trans_scale": 1.0},
    "scale_1.0": {"transform": "min_max", "trans_scale": 2.0},
    "scale_2.0": {"transform": "min_max", "trans_scale": 4.0},
    "inverse": {"transform": "min_max", "inverse": True},
    "rpp": {"transform": "min_max", "rpp": True},
    "box_cox": {"transform": "box_cox"},
    "sym_power": {"transform": "sym_power"},
}
