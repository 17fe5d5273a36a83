"""`summarize.py --paper` puts Table 1's numbers only beside runs made in Table 1's setting.

The run folders here are fabricated (args.json and results.json, or the published code's
res_table.md): the summariser only reads them. `table1_run` writes one in Table 1's setting.
"""
import json
import shutil

from opt import row_options
from tests.conftest import VECTORS, run_py

IMAGES = [f"{i:02d}" for i in range(16)]


def table1_run(folder, tag, mean, seed=None, shape=(3, 512, 512), row=None, complete=True, **args):
    """A complete run folder of this project in Table 1's setting (DIV2K's 16 test images at 512 x 512,
    SIREN 3x256, 5000 epochs, the transform of Table 1's row `row`, by default `tag`); `args` overrides
    args.json, `mean` is {epoch: {metric: value}}, every image given the mean's values."""
    folder.mkdir(parents=True)
    opts = {**row_options(row or tag), "input_path": "data/div2k/test_data", "multi_data": True,
            "tag": tag if seed is None else f"{tag}_seed{seed}", **({} if seed is None else {"seed": seed}), **args}
    (folder / "args.json").write_text(json.dumps(opts))
    mean = {str(e): m for e, m in mean.items()}
    res = {"samples": {n: mean for n in IMAGES}, "mean": mean, "complete": complete,
           "attributes": {"std": 0.46, "skew": 0.16, "range": 0.96},
           "sample_shapes": {n: list(shape) for n in IMAGES}, "num_epochs": opts["num_epochs"]}
    (folder / "results.json").write_text(json.dumps(res))
    return folder


def tables(log):
    """{experiment folder: its table's text} of `summarize LOG --paper`."""
    p = run_py("summarize.py", log, "--paper", check=True)
    return {part.split("\n", 1)[0]: part for part in p.stdout.split("## ")[1:]}


def rows_of(text):
    return {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}


def note(text, start):
    (line,) = [line for line in text.splitlines() if line.startswith(start)]
    return line


def test_only_the_table1_setting_gets_the_paper_column(tmp_path):
    log = tmp_path / "log"
    table1_run(log / "a_short" / "sym_power_1", "sym_power", {500: {"psnr": 25.0, "ssim_ref": 0.96},
                                                             1000: {"psnr": 28.0, "ssim_ref": 0.98}}, num_epochs=1000)
    table1_run(log / "b_audio" / "sym_power_1", "sym_power", {5000: {"psnr": 40.0, "snr": 20.0, "si_snr": 19.0}},
               shape=(1, 80000), signal_type="audio", input_path="data/libri_test_clean_121726")
    table1_run(log / "c_table1" / "sym_power_1", "sym_power", {5000: {"psnr": 37.0, "ssim_ref": 0.995}})
    out = tables(log)
    assert set(out) == {"a_short", "b_audio", "c_table1"}

    short = out["a_short"]
    assert "[" not in rows_of(short)["sym_power"] and "Cells read" not in short
    assert "num_epochs 1000" in note(short, "No paper numbers beside sym_power")
    assert "[" not in rows_of(out["b_audio"])["sym_power"]
    assert "signal_type audio" in note(out["b_audio"], "No paper numbers beside sym_power")
    full = out["c_table1"]
    assert "37.00 [36.75, +0.25]" in rows_of(full)["sym_power"] and "[0.46, " in rows_of(full)["sym_power"]
    assert "No paper numbers" not in full and "size not recorded" not in note(full, "Cells read")


def test_each_row_says_which_requirement_it_misses(tmp_path):
    exp = tmp_path / "001_trans"
    m = {5000: {"psnr": 36.0, "ssim_ref": 0.99}}
    table1_run(exp / "sym_power_1", "sym_power", m)
    table1_run(exp / "scale_1.0_1", "scale_1.0", m, shape=(3, 64, 64))  # a downscaled copy of DIV2K
    table1_run(exp / "box_cox_1", "box_cox", m, lr=1e-3)
    table1_run(exp / "z_score_1", "z_score", m, input_path="data/text/test_data")  # 16 images at 512 too
    table1_run(exp / "gamma_0.5_1", "gamma_0.5", m, gamma_trans=2.0)  # not its row's transform
    table1_run(exp / "no_calibration_1", "no_calibration", m, row="sym_power", pn_beta=0.0)  # an ablation
    text = tables(tmp_path)["001_trans"]
    rows = rows_of(text)
    assert "[36.75, -0.75]" in rows["sym_power"]
    assert not any("[" in rows[s] for s in ("scale_1.0", "box_cox", "z_score", "gamma_0.5", "no_calibration"))
    why = note(text, "No paper numbers beside")
    for needle in ("scale_1.0: image 00 is 3x64x64", "box_cox: lr 0.001", "z_score: input data/text/test_data",
                   "gamma_0.5: gamma_trans 2.0", "no_calibration: not a Table 1 row"):
        assert needle in why, (needle, why)


def _published_run(folder, **changes):
    """A published-code run folder: the reference log's sym_power args.json with `changes`, and a
    res_table.md of the 16 images at epoch 5000 (PrettyTable blocks, then the `time` block)."""
    src = next((VECTORS / "reference_log" / "001_trans").glob("sym_power_*"))
    folder.mkdir(parents=True)
    args = {**json.loads((src / "args.json").read_text()), **changes}
    (folder / "args.json").write_text(json.dumps(args))
    border = "+------------+-------+-------+------+-------+"
    body = [f"| {n} | 36.5 | 0.001 | 0.99 | -1 |" for n in IMAGES] + ["| mean | 36.5 | 0.001 | 0.99 | -1 |"]
    (folder / "res_table.md").write_text("\n".join([border, "| epoch_5000 | psnr | mse | ssim | lpips |", border,
                                                    *body, border, border, "| time | train |", border]) + "\n")


def test_published_logs_are_compared_when_theirs_is_table1s_setting(tmp_path):
    exp = tmp_path / "001_trans"
    _published_run(exp / "sym_power_a", hidden_features=256, num_epochs=5000, input_path="./data/div2k/test_data")
    text = tables(tmp_path)["001_trans"]
    assert "36.50 [36.75, -0.25]" in rows_of(text)["sym_power"]
    assert "size not recorded by sym_power" in note(text, "Cells read")  # the published code does not log it

    ref = tmp_path / "reference_log"  # the published code's own 64 px, 3x64, 100-epoch runs: read, not compared
    shutil.copytree(VECTORS / "reference_log", ref)
    text = tables(ref)["001_trans"]
    assert "[" not in rows_of(text)["sym_power"] and "hidden_features 64" in note(text, "No paper numbers beside")
