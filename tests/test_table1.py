"""Table 1 three ways: the published code's run trees, their checkpoints decoded in bulk, and this
project's runs over several seeds (mean ± std, curves)."""
import json
import re
import shutil

import pytest
import torch

from tests.conftest import VECTORS, dataset, load_json, one_line_error, run_folder, run_in_process
from tests.test_paper_filter import table1_run
import summarize

PUBLISHED = VECTORS / "reference_log" / "001_trans"  # written by the published code


def rows_of(text):
    """{(set, source): cells} of the summariser's markdown rows."""
    out = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| Trans."):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            out[(cells[0], cells[-2])] = cells
    return out


def mean_rows(res_table):
    """{epoch: mean-row PSNR} read straight from a PrettyTable res_table.md."""
    out, epoch = {}, None
    for line in res_table.read_text().splitlines():
        m = re.match(r"\|\s*epoch_(\d+)\s*\|", line)
        epoch = m.group(1) if m else epoch
        m = re.match(r"\|\s*mean\s*\|\s*([-0-9.]+)\s*\|", line)
        if m:
            out[epoch] = float(m.group(1))
    return out


def summary(capsys, *argv):
    assert summarize.main([str(a) for a in argv]) == 0
    return capsys.readouterr()


def test_summariser_prints_the_published_logs_mean_rows(capsys):
    out = summary(capsys, PUBLISHED, "--epochs", "50,100").out
    rows = rows_of(out)
    assert {s for s, _ in rows} == {"scale_1.0", "sym_power"} and "before the epoch's update" in out
    for run in PUBLISHED.iterdir():
        tag = json.loads((run / "args.json").read_text())["tag"]
        cells = rows[(tag, "published code's log")]
        means = mean_rows(run / "res_table.md")
        assert set(means) == {"50", "100"}
        assert [cells[4], cells[6]] == [f"{means['50']:.2f}", f"{means['100']:.2f}"]
        assert cells[1:4] == ["-", "-", "-"] and cells[-1] == "ok"  # no --data: no Attributes


def test_published_tables_with_more_columns_missing_lpips_or_no_end(tmp_path, capsys):
    def run(name, table):
        folder = tmp_path / "007_x" / name
        folder.mkdir(parents=True)
        (folder / "args.json").write_text(json.dumps({"tag": name, "seed": 3407, "running_name": name}))
        (folder / "res_table.md").write_text(table)

    block = ("+---------+--------+-------+-------+-------+------+\n"
             "| epoch_7 |  psnr  |  mse  |  ssim | lpips | snr  |\n"
             "+---------+--------+-------+-------+-------+------+\n"
             "|   a_1   | 20.004 | 0.01  | 0.9   |   -1  | 3.0  |\n"
             "|   b_2   | 22.004 | 0.01  | 0.8   |   -1  | 5.0  |\n"
             "|   mean  | 21.004 | 0.01  | 0.85  |   -1  | 4.0  |\n"
             "+---------+--------+-------+-------+-------+------+\n")
    end = "+------+-------+\n| time | train |\n+------+-------+\n| time | 0.01h |\n+------+-------+\n"
    run("finished", block + end)
    run("cut_short", block)
    run("last_epoch_logged", block)  # no time block, but its last epoch (args.json num_epochs) is there
    args = tmp_path / "007_x" / "last_epoch_logged" / "args.json"
    args.write_text(json.dumps({**json.loads(args.read_text()), "num_epochs": 7}))
    rows = rows_of(summary(capsys, tmp_path, "--lpips").out)
    cells = rows[("finished", "published code's log")]
    assert cells[4:7] == ["21.00", "0.8500", "n/a"] and cells[-1] == "ok"  # lpips -1: not computed
    assert rows[("cut_short", "published code's log")][4] == "-"
    assert "incomplete" in rows[("cut_short", "published code's log")][-1]
    assert rows[("last_epoch_logged", "published code's log")][4] == "21.00"


def test_data_gives_published_runs_table1_attributes(tmp_path, capsys):
    """A published run over the 16 DIV2K images: --data computes the Attributes the reference's own
    computation gives (attributes_div2k_test.json)."""
    data = dataset("div2k/test_data")
    args = json.loads((next(PUBLISHED.glob("sym_power*")) / "args.json").read_text())
    folder = tmp_path / "001_trans" / "sym_power_x"
    folder.mkdir(parents=True)
    (folder / "args.json").write_text(json.dumps(args))
    names = [f"{i:02d}" for i in range(16)]
    rows = "".join(f"| {n} | 30.0 | 0.001 | 0.99 | -1 |\n" for n in names)
    (folder / "res_table.md").write_text("+--+\n| epoch_5000 | psnr | mse | ssim | lpips |\n+--+\n" + rows +
                                         "| mean | 30.0 | 0.001 | 0.99 | -1 |\n+--+\n+--+\n| time | train |\n+--+\n")
    cells = rows_of(summary(capsys, tmp_path, "--data", data).out)[("sym_power", "published code's log")]
    want = load_json(VECTORS / "attributes_div2k_test.json")["rows"]["sym_power"]
    assert cells[1:4] == [f"{want[k]:.2f}" for k in ("std", "skew", "range")]


def _our_run(root, tag, seed, psnrs):
    table1_run(root / "001_trans" / f"{tag}_seed{seed}_2026_{seed}", tag,  # in Table 1's setting: --paper compares
               {e: {"psnr": p, "ssim_ref": 0.9} for e, p in psnrs.items()}, seed=seed)


def test_seeds_give_mean_and_std_and_curves(tmp_path, capsys):
    for seed, p in ((3407, 30.0), (1, 31.0), (2, 32.5)):
        _our_run(tmp_path, "sym_power", seed, {500: p - 5, 1000: p})
    _our_run(tmp_path, "scale_1.0", 3407, {500: 20.0, 1000: 25.0})
    out = summary(capsys, tmp_path, "--paper", "--plot", tmp_path / "curves.png")
    rows = rows_of(out.out)
    sym = rows[("sym_power", "this project")]
    std = torch.tensor([30.0, 31.0, 32.5]).std().item()  # n - 1
    assert sym[6].startswith(f"31.17 ± {std:.2f} [31.18, -0.01]") and sym[-1] == "ok, 3 seeds (1, 2, 3407)"
    assert rows[("scale_1.0", "this project")][6].startswith("25.00 [")
    assert "plot: " in out.err and (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    series = {c["label"]: c for c in summarize.curves(summarize.load_runs(tmp_path))}
    sym = series["sym_power, 3 seeds"]  # the table's row names
    assert sym["row"] == "sym_power" and sym["epochs"] == [500, 1000]
    assert sym["mean"][1] == pytest.approx(31.1666667) and sym["std"][1] == pytest.approx(std)
    assert series["scale_1.0"]["std"] is None and sym["paper"] is None  # --paper marks nothing unless asked
    marked = {c["row"]: c["paper"] for c in summarize.curves(summarize.load_runs(tmp_path), paper=True)}
    assert marked["sym_power"] == {500: 26.96, 1000: 31.18}  # Table 1's values at the epochs it reports


def test_run_py_seeds_make_one_task_per_set_and_seed(capsys):
    import run

    assert run.main(["001", "--only", "scale_1.0,sym_power", "--seeds", "3407,1", "--dry_run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    got = [(re.search(r"--tag (\S+)", line).group(1), re.search(r"--seed (\d+)", line).group(1)) for line in lines]
    assert got == [("scale_1.0_seed3407", "3407"), ("scale_1.0_seed1", "1"), ("sym_power_seed3407", "3407"),
                   ("sym_power_seed1", "1")]
    p = run_in_process("run.py", "001", "--seeds", "1,x")
    assert len(p.stderr.strip().splitlines()) == 1 and "1,x" in one_line_error(p, "--seeds")


def main_py(capsys, *argv):
    """main.py in this process (the decodes are quick; a new interpreter would cost more than they do)."""
    p = run_in_process("main.py", *argv)
    return p.returncode, p.stdout, p.stderr


def _tree_state(root):
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}


def test_eval_ckpt_decodes_a_whole_published_tree(tmp_path, div2k_64px, capsys):
    tree = tmp_path / "authors" / "001_trans"
    shutil.copytree(PUBLISHED, tree)
    rpp = tree / "rpp_2026-11-27-14:03:00_abcd" / "ckpt"  # the published code stores no rpp permutation
    rpp.mkdir(parents=True)
    state = torch.load(next(PUBLISHED.glob("scale*/ckpt/ckpt_00_*.pth")), weights_only=False)
    state["args"].rpp, state["args"].tag = True, "rpp"
    torch.save(state, rpp / "ckpt_00_100_2026-11-27-14:03:01.pth")
    before = _tree_state(tmp_path / "authors")
    data = div2k_64px["00"].parent
    out = tmp_path / "out"
    rc, _, err = main_py(capsys, "--eval_ckpt", tree, "--input_path", data, "--trust_checkpoint", "--save_dir", out)
    assert rc == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "rpp" in errors[0] and "decoded 4 of 5 checkpoints" in err
    assert _tree_state(tmp_path / "authors") == before  # the source is only read

    for run in PUBLISHED.iterdir():
        decoded = next((out / "decoded" / "001_trans").glob(f"{run.name[:9].replace(':', '_')}*"))
        res = json.loads((decoded / "results.json").read_text())
        assert res["measured"] == "after_update" and res["complete"] and set(res["samples"]) == {"00", "01"}
        ckpt = next(run.glob("ckpt/ckpt_01_*.pth"))
        rc, stdout, err = main_py(capsys, "--eval_ckpt", ckpt, "--input_path", data, "--trust_checkpoint",
                                  "--save_dir", tmp_path / "alone")
        assert rc == 0, err
        alone = json.loads(stdout)
        assert abs(res["samples"]["01"]["100"]["psnr"] - alone["psnr"]) < 1e-3
        logged = mean_rows(run / "res_table.md")["100"]
        assert 0 < res["mean"]["100"]["psnr"] - logged < 0.5  # after the update: a little above the log
    rows = rows_of(summary(capsys, out).out)
    assert {s for s, _ in rows} == {"scale_1.0", "sym_power"}
    assert all(c[4] != "-" and c[1] != "-" and c[-1] == "ok" for c in rows.values())


def test_bulk_decoding_keeps_crafted_names_inside_save_dir(tiny_png, fast_args, tmp_path, capsys):
    run_in_process("main.py", "--input_path", tiny_png, *fast_args, check=True)
    state = torch.load(next(run_folder(tmp_path / "log").glob("ckpt/*_20_*.pth")), weights_only=True)
    state["sample"] = "../../../../x/escaped"
    state["args"]["tag"] = "../../../tag"
    run = tmp_path / "tree" / "..x" / "run"
    (run / "ckpt").mkdir(parents=True)
    torch.save(state, run / "ckpt" / "ckpt_evil_20_t.pth")
    out = tmp_path / "deep" / "out"
    before = set(tmp_path.rglob("*"))
    rc, _, err = main_py(capsys, "--eval_ckpt", tmp_path / "tree", "--save_dir", out)
    assert rc == 0, err
    created = set(tmp_path.rglob("*")) - before - {out, out.parent}
    assert created and all(out in c.parents for c in created), sorted(created)
    assert list(out.rglob("final_pred/*.png")) and "decoded 1 of 1" in err
    rc, _, err = main_py(capsys, "--eval_ckpt", tmp_path / "tree", "--save_dir", tmp_path / "tree" / "inside")
    assert rc == 2 and "only read" in err and not (tmp_path / "tree" / "inside").exists()
