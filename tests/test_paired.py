"""The paired comparison (`summarize.py --baseline`) and the protocol card, on fabricated run folders:
the numbers are differences of what the runs' results.json hold, runs of two protocols never share a
row, a comparison pairs within one protocol, and --paper sits only beside the published schedule."""
import json

import numpy as np
import pytest
from scipy import stats

from tests.test_paper_filter import IMAGES, table1_run
import summarize
from util import paired

LAST = "5000"


def run(root, tag, seed, psnr, **args):
    """A complete Table 1-setting run of `tag` and `seed` whose image i reaches psnr[i] at epoch 5000."""
    folder = table1_run(root / f"{tag}_seed{seed}_{len(args)}_{hash(tuple(sorted(args.items()))) % 10 ** 6}", tag,
                        {LAST: {"psnr": float(np.mean(psnr)), "ssim_ref": 0.99}}, seed=seed, **args)
    res = json.loads((folder / "results.json").read_text())
    res["samples"] = {n: {LAST: {"psnr": float(p), "ssim_ref": 0.99}} for n, p in zip(IMAGES, psnr)}
    (folder / "results.json").write_text(json.dumps(res))
    return folder


def values(seed, shift):
    return 30 + np.arange(16) * 0.1 + seed * 0.3 + shift


def summarize_json(capsys, log, *more):
    assert summarize.main([str(log), *map(str, more)]) == 0
    return capsys.readouterr().out


def recomputed(exp, row, base, seeds):
    """From the runs' results.json alone: {image: {seed: row's last psnr - base's}}."""
    last = {}
    for f in exp.glob("*/results.json"):
        args, res = json.loads((f.parent / "args.json").read_text()), json.loads(f.read_text())
        last[args["tag"].rsplit("_seed", 1)[0], args["seed"]] = {
            n: b[max(b, key=int)]["psnr"] for n, b in res["samples"].items()}
    return {n: {str(s): last[row, s][n] - last[base, s][n] for s in seeds} for n in last[row, seeds[0]]}


def test_json_is_the_per_image_seed_paired_differences(tmp_path, capsys):
    exp = tmp_path / "001_trans"
    gain = np.where(np.arange(16) < 8, 0.5, -0.02) + np.arange(16) * 0.001  # 8 wins, 8 ties
    for seed in (1, 2):
        run(exp, "scale_1.0", seed, values(seed, 0))
        run(exp, "sym_power", seed, values(seed, 0) + gain * seed)  # seed 2 gains twice as much
    run(exp, "sym_power", 3, values(3, 9))  # no baseline run with seed 3: not paired
    out = summarize_json(capsys, tmp_path, "--baseline", "scale_1.0", "--json", tmp_path / "c.json")
    got = json.loads((tmp_path / "c.json").read_text())
    row = got["rows"]["sym_power"]
    per_seed = recomputed(exp, "sym_power", "scale_1.0", [1, 2])
    flat = {(n, s): v for n, seeds in per_seed.items() for s, v in seeds.items()}
    got_flat = {(n, s): v for n, seeds in row["per_seed"].items() for s, v in seeds.items()}
    assert got_flat == pytest.approx(flat, abs=1e-12)
    assert row["seeds"] == [1, 2]
    d = np.array([list(per_seed[n].values()) for n in sorted(per_seed)]).mean(axis=1)
    assert row["per_image"] == pytest.approx(dict(zip(sorted(per_seed), d)), abs=1e-12)
    assert row["mean_delta"] == pytest.approx(d.mean()) and row["median_delta"] == pytest.approx(np.median(d))
    assert row["ci95"] == pytest.approx(list(stats.t.interval(0.95, 15, loc=d.mean(), scale=stats.sem(d))))
    assert row["p_signed_rank"] == pytest.approx(stats.wilcoxon(d).pvalue)
    assert (row["wins"], row["ties"], row["losses"], row["n_images"]) == (8, 8, 0, 16)
    assert got["baseline"] == "scale_1.0" and got["metric"] == "psnr" and "Student-t" in got["method"]
    assert row["baseline_values"]["00"] == pytest.approx(np.mean([values(s, 0)[0] for s in (1, 2)]))
    assert "| sym_power | **+0.75** |" in out  # bold: the best row on image 00
    assert "Student-t" in out and "2 seed(s), 16 images" in out
    summarize_json(capsys, tmp_path, "--baseline", "scale_1.0", "--tie", "0.6", "--json", tmp_path / "d.json")
    row = json.loads((tmp_path / "d.json").read_text())["rows"]["sym_power"]
    assert (row["wins"], row["ties"], row["losses"]) == (8, 8, 0)  # +0.75 is beyond 0.6


def test_a_2000_epoch_run_shows_its_last_epoch(tmp_path, capsys):
    exp = tmp_path / "008_protocols"
    for tag in ("scale_1.0", "sym_power"):
        folder = run(exp, tag, 1, values(1, 0))
        res = json.loads((folder / "results.json").read_text())
        blocks = {e: {"psnr": 30.0 + int(e) / 1000, "ssim_ref": 0.9} for e in ("500", "1000", "1500", "2000")}
        res["samples"] = {n: blocks for n in IMAGES}
        res["mean"] = blocks
        (folder / "results.json").write_text(json.dumps(res))
    head = summarize_json(capsys, tmp_path).splitlines()[2]
    assert "0.5k PSNR" in head and "1k PSNR" in head and "2k PSNR" in head and "1.5k" not in head


@pytest.mark.parametrize("n_images, n_seeds", [(4, 2), (8, 1), (16, 3)])
def test_at_zero_effect_the_interval_and_the_verdict_keep_their_level(n_images, n_seeds):
    """300 simulated sweeps with no true difference (per-image effects N(0, 1), seed noise 0.3 dB; a fixed
    generator): the interval covers zero in about 95% of them, "better"/"worse" is said in at most 5%, and
    the interval is the t-interval (not wider)."""
    rng = np.random.default_rng(n_images * 10 + n_seeds)
    d = rng.normal(0, 1, (300, n_images, 1)) + rng.normal(0, 0.3, (300, n_images, n_seeds))
    got = [paired.summary(x.mean(axis=1)) for x in d]
    covered = np.mean([c["ci95"][0] < 0 < c["ci95"][1] for c in got])
    said = np.mean([c["verdict"] in ("better", "worse") for c in got])
    assert 0.92 <= covered <= 0.98 and said <= 0.05 + 0.02
    m = d.mean(axis=2)
    t_width = 2 * stats.t.ppf(0.975, n_images - 1) * stats.sem(m, axis=1)
    assert np.median([c["ci95"][1] - c["ci95"][0] for c in got]) <= 1.5 * np.median(t_width)
    if n_images < paired.MIN_IMAGES:
        assert all(c["verdict"].startswith("too few images") for c in got)
        assert min(c["p_signed_rank"] for c in got) == pytest.approx(2 / 2 ** n_images)


def test_two_protocols_make_two_rows_and_pair_within_each(tmp_path, capsys):
    exp = tmp_path / "001_trans"
    for seed in (1, 2):
        run(exp, "scale_1.0", seed, values(seed, 0))
        run(exp, "sym_power", seed, values(seed, 0.5))
        run(exp, "scale_1.0", seed, values(seed, 1.0), lr_schedule="constant")
        run(exp, "sym_power", seed, values(seed, 0.8), lr_schedule="constant")  # -0.2 under this protocol
    out = summarize_json(capsys, tmp_path, "--baseline", "scale_1.0", "--paper", "--json", tmp_path / "c.json")
    table = out.split("###")[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert {"scale_1.0 [decay]", "sym_power [decay]", "scale_1.0 [constant]", "sym_power [constant]"} <= set(rows)
    # each row averages its own protocol's runs
    assert "31.20 ± 0.21 [36.18, " in rows["scale_1.0 [decay]"] and "32.20 ± 0.21" in rows["scale_1.0 [constant]"]
    assert "[" not in rows["scale_1.0 [constant]"].split("|", 2)[2]  # the paper only beside the decaying schedule
    assert "scale_1.0 [constant], sym_power [constant]: lr_schedule constant, not decay" in table
    assert "lr schedule decay / constant (in the rows' brackets)" in table
    got = json.loads((tmp_path / "c.json").read_text())["rows"]
    assert got["sym_power [decay]"]["baseline"] == "scale_1.0 [decay]"
    assert got["sym_power [constant]"]["baseline"] == "scale_1.0 [constant]"
    assert got["sym_power [decay]"]["mean_delta"] == pytest.approx(0.5)
    assert got["sym_power [constant]"]["mean_delta"] == pytest.approx(-0.2)
    assert got["sym_power [constant]"]["losses"] == 16
    assert "| scale_1.0 [constant] (baseline: its psnr) | **31.45** |" in out  # every row loses: the baseline in bold
    assert "| sym_power [decay] | **+0.50** |" in out


def test_a_run_folder_without_the_schedule_is_the_published_decay(tmp_path, capsys):
    folder = run(tmp_path / "001_trans", "sym_power", 1, values(1, 0))
    args = json.loads((folder / "args.json").read_text())
    args.pop("lr_schedule", None)
    (folder / "args.json").write_text(json.dumps(args))
    out = summarize_json(capsys, tmp_path, "--paper")
    assert "Protocol: lr schedule decay; loss mse; lr default; epochs 5000; backbone siren; depth 3; width 256" in out
    assert "[36.75, " in out and "No paper numbers" not in out


def test_one_image_is_figure_1s_view(tmp_path, capsys):
    exp = tmp_path / "001_trans"
    run(exp, "scale_1.0", 1, values(1, 0))
    run(exp, "sym_power", 1, values(1, 1))
    out = summarize_json(capsys, tmp_path, "--image", "01", "--paper", "--baseline", "scale_1.0",
                         "--plot", tmp_path / "one.png")
    rows = {line.split("|")[1].strip(): line for line in out.split("###")[0].splitlines() if line.startswith("| ")}
    assert "31.40 [38.90, -7.50]" in rows["sym_power"]  # Figure 1's fit of image 01, not Table 1's mean
    assert "| sym_power | **+1.00** | +1.00 n/a | +1.00 | 1 | 1 / 0 / 0 | too few images (1 < 6) to conclude |" in out
    assert (tmp_path / "one.png").read_bytes()[:4] == b"\x89PNG"
    p = summarize.main([str(tmp_path), "--image", "99"])
    assert p == 2 and "--image 99" in capsys.readouterr().err


def test_mistakes_are_one_line(tmp_path, capsys):
    exp = tmp_path / "001_trans"
    run(exp, "sym_power", 1, values(1, 0))
    assert summarize.main([str(tmp_path), "--baseline", "scale_1.0"]) == 2
    assert capsys.readouterr().err.startswith("error: --baseline scale_1.0: ")
    assert summarize.main([str(tmp_path), "--json", str(tmp_path / "x.json")]) == 2
    assert "--baseline" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
    assert summarize.main([str(tmp_path), "--baseline", "sym_power", "--tie", "-1"]) == 2


def test_sets_that_name_their_protocol_pair_with_the_baseline_of_theirs(tmp_path, capsys):
    exp = tmp_path / "008_protocols"
    for seed in (1, 2):
        for proto, schedule, gain in (("decay_1e-4", "decay", 0.5), ("constant_1e-4", "constant", -0.1)):
            run(exp, f"scale_1.0@{proto}", seed, values(seed, 0), lr_schedule=schedule, row="scale_1.0")
            run(exp, f"sym_power@{proto}", seed, values(seed, gain), lr_schedule=schedule, row="sym_power")
    summarize_json(capsys, tmp_path, "--baseline", "scale_1.0", "--json", tmp_path / "c.json")
    got = json.loads((tmp_path / "c.json").read_text())["rows"]
    assert set(got) == {"sym_power@decay_1e-4", "sym_power@constant_1e-4"}
    assert got["sym_power@constant_1e-4"]["baseline"] == "scale_1.0@constant_1e-4"
    assert got["sym_power@decay_1e-4"]["mean_delta"] == pytest.approx(0.5)
    assert got["sym_power@constant_1e-4"]["mean_delta"] == pytest.approx(-0.1)


def test_the_card_counts_its_images_in_words():
    from util import protocol

    proto = protocol.of({"input_path": "data/div2k/test_data/00.png", "num_epochs": 200})
    assert "(1 image: 00)" in protocol.card({"scale_1.0": proto}, samples=["00"])
    assert "(2 images: 00, 01)" in protocol.card({"scale_1.0": proto}, samples=["00", "01"])


@pytest.mark.parametrize("more", [["--baseline", "scale_1.0", "--json", "-"], ["--baseline", "scale_1.0", "--json", "."],
                                  ["--plot", "curves.bmp"], ["--plot", "curves.png", "--baseline", ""],
                                  ["--baseline", "scale_1.0", "--why", "why.bmp"]])
def test_an_output_summarize_cannot_write_is_refused_before_the_table(tmp_path, capsys, monkeypatch, more):
    """--json - would write a file named '-' where the command ran, --json onto a folder named the hidden
    temporary file, a plot suffix no backend writes came after the whole table, and an empty --baseline
    was taken as none: one line, nothing out."""
    exp = tmp_path / "001_trans"
    for tag in ("scale_1.0", "sym_power"):
        run(exp, tag, 1, values(1, 0))
    monkeypatch.chdir(tmp_path)
    assert summarize.main([str(tmp_path), *more]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"error: {more[-2]} ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["001_trans"]


def test_several_image_sets_give_the_effect_per_set_and_pooled(tmp_path, capsys):
    """Two log folders of one experiment on different images: each set's comparison, and the pooled one
    over every image of both, equal scipy.stats on the differences; in words, on how many sets it helps."""
    gains = {"a": np.linspace(0.2, 1.0, 16), "b": np.linspace(-0.6, 0.4, 16)}
    for name, gain in gains.items():
        for seed in (1, 2):
            run(tmp_path / name / "001_trans", "scale_1.0", seed, values(seed, 0))
            run(tmp_path / name / "001_trans", "sym_power", seed, values(seed, 0) + gain)
    out = summarize_json(capsys, tmp_path / "a", tmp_path / "b", "--baseline", "scale_1.0",
                         "--json", tmp_path / "c.json")
    got = json.loads((tmp_path / "c.json").read_text())
    assert set(got["sets"]) == {str(tmp_path / "a"), str(tmp_path / "b")}
    assert got["sets"][str(tmp_path / "a")]["sym_power"]["verdict"] == "better"
    assert got["sets"][str(tmp_path / "b")]["sym_power"]["verdict"] == "no clear difference"
    d = np.array([v for rows in got["sets"].values() for v in rows["sym_power"]["per_image"].values()])
    assert d == pytest.approx(np.concatenate(list(gains.values())))
    pool = got["pooled"]["sym_power"]
    assert pool["n_images"] == 32 and pool["mean_delta"] == pytest.approx(d.mean())
    assert pool["ci95"] == pytest.approx(list(stats.t.interval(0.95, 31, loc=d.mean(), scale=stats.sem(d))))
    assert pool["p_signed_rank"] == pytest.approx(stats.wilcoxon(d).pvalue)
    assert pool["helps"].startswith("better on 1 of 2 sets, worse on 0")
    assert "per image set and pooled" in out and "| sym_power | **pooled** | 32 images |" in out


def test_the_rank_correlation_is_spearmans_with_an_exact_or_permutation_p():
    import itertools

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=6), rng.normal(size=6)
    r = paired.rank_correlation(x, y)
    assert r["rho"] == pytest.approx(stats.spearmanr(x, y).statistic)
    every = np.array([stats.spearmanr(p, y).statistic for p in itertools.permutations(x)])
    assert r["p"] == pytest.approx(np.mean(np.abs(every) >= abs(r["rho"]) - 1e-12))  # exact: all 720 orders
    rates = np.mean([paired.rank_correlation(rng.normal(size=16), rng.normal(size=16))["p"] < 0.05
                     for _ in range(200)])
    assert rates <= 0.08  # no correlation: "significant" at about its level
    assert paired.rank_correlation([1, 2, 3], [5, 5, 5]) is None


def test_where_a_row_helps_correlates_its_differences_with_what_the_runs_record(tmp_path, capsys):
    exp = tmp_path / "001_trans"
    skew = np.linspace(-3, 1, 16)
    gain = 0.3 * skew + np.sin(np.arange(16))  # loses most where the data is least skewed... on average
    for tag, shift in (("scale_1.0", 0), ("sym_power", gain)):
        folder = run(exp, tag, 1, values(1, 0) + shift)
        res = json.loads((folder / "results.json").read_text())
        res["sample_attributes"] = {n: {"std": 0.3, "skew": float(k), "range": 1.0} for n, k in zip(IMAGES, skew)}
        (folder / "results.json").write_text(json.dumps(res))
    out = summarize_json(capsys, tmp_path, "--baseline", "scale_1.0", "--json", tmp_path / "c.json",
                         "--why", tmp_path / "why.png")
    row = json.loads((tmp_path / "c.json").read_text())["rows"]["sym_power"]
    assert set(row["correlations"]) == {"skew (data)"}  # constants and a repeat (the same skew after) left out
    want = stats.spearmanr(list(row["per_image"].values()), skew).statistic
    assert row["correlations"]["skew (data)"]["rho"] == pytest.approx(want)
    assert row["attributes"]["skew (data)"]["03"] == pytest.approx(skew[3])
    assert "Where each row helps" in out and (tmp_path / "why.png").read_bytes()[:4] == b"\x89PNG"


def test_the_paired_figure_sorts_each_row_by_its_own_difference_and_draws_the_tables_interval(tmp_path, capsys):
    from util.palette import colour
    from util.plot import summary_figure

    exp = tmp_path / "008_protocols"
    for proto, schedule, gain in (("decay_1e-4", "decay", np.linspace(1, -1, 16)),
                                  ("constant_1e-4", "constant", np.linspace(-5, 5, 16))):
        for seed in (1, 2):
            run(exp, f"scale_1.0@{proto}", seed, values(seed, 0), lr_schedule=schedule, row="scale_1.0")
            run(exp, f"sym_power@{proto}", seed, values(seed, 0) + gain, lr_schedule=schedule, row="sym_power")
    runs = summarize.load_runs(exp)
    compared = summarize.comparison(runs, "scale_1.0", "psnr", 0.05)
    fig = summary_figure([("t", summarize.curves(runs), compared)], "PSNR", "PSNR (dB)")
    curves, *rows = [ax for ax in fig.axes if ax.axison]
    assert len(rows) == 2  # an axis (a scale) per row
    for ax, (name, c) in zip(rows, compared.items()):
        ticks = [t.get_text() for t in ax.get_xticklabels()][:16]
        assert ticks == sorted(c["per_image"], key=c["per_image"].get)  # its own order
        (bar,) = [seg for coll in ax.collections for seg in coll.get_segments()]
        assert sorted(bar[:, 1]) == pytest.approx(c["ci95"])  # the table's interval, nothing else
        assert "95% t over 16 images, 2 seed(s)" in ax.get_title().replace("\n", " ")
        assert ax.lines[0].get_color() == colour("sym_power")
    assert {line.get_color() for line in curves.lines if "sym_power" in line.get_label()} == {colour("sym_power")}


def test_every_named_transform_has_a_colour_of_its_own():
    from config import ABLATION_SETS, TABLE1_ROWS
    from util.palette import colour

    names = TABLE1_ROWS + ABLATION_SETS
    assert len({colour(n) for n in names}) == len(names)
    assert colour("sym_power@constant_1e-4") == colour("finer-sym_power") == colour("sym_power [constant]")
