"""What researchers look at, read back as TensorBoard and matplotlib hold it: error maps on one scale
per run, image means at every log epoch, one histogram tag for every transform, a declared HParams
table, and figures that label themselves."""
import io
import json
import os
import re
import shlex

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, backend_context, metadata

import main
from components import transform as T
from opt import row_options
from tests.conftest import image_folder, run_py, smooth_image
import summarize
from tests.tensorboard_server import NotStarted, TensorBoard
from util.plot import level_bins, summary_figure, transform_figure, transform_histograms
from util.tensorboard import colormap, error_fraction, error_map, error_map_layout

SIZE, EPOCHS, LOG = 16, 40, 10
SMALL = ["--num_epochs", str(EPOCHS), "--log_epoch", str(LOG), "--hidden_features", "32", "--hidden_layers", "2",
         "--lr", "1e-3", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two images fitted by two parameter sets, as run.py --seeds names them: {set: run folder}."""
    root = tmp_path_factory.mktemp("views")
    data = image_folder(root / "imgs", ["00", "01"], SIZE)
    folders = {}
    for row, transform in (("sym_power", "sym_power"), ("scale_1.0", "min_max")):
        folder = root / "log" / "001_trans" / f"{row}_seed5"
        argv = ["--input_path", str(data), "--transform", transform, "--tag", f"{row}_seed5", "--seed", "5",
                "--run_folder", str(folder), *SMALL]
        assert main.main(argv) == 0
        folders[row] = folder
    return folders


def _events(folder):
    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "histograms": 0, "tensors": 0, "scalars": 0})
    acc.Reload()
    return acc


def _fractions(rgb):
    """Where on the colour map each pixel's colour lies, in [0, 1] (nearest of 1001 map colours)."""
    lut = (colormap(torch.linspace(0, 1, 1001).unsqueeze(0))[:, 0].T * 255).numpy()  # (1001, 3)
    colours, index = np.unique(rgb.reshape(-1, 3), axis=0, return_inverse=True)
    d = ((colours[:, None].astype(float) - lut[None]) ** 2).sum(-1)
    return (d.argmin(1) / 1000)[index.ravel()].reshape(rgb.shape[:2])


def test_error_map_pixels_follow_one_log_scale():
    err = torch.tensor([[0.001, 0.01], [0.1, 40.0]])  # levels; the scale is 0.01 .. 10: 0.001 is 0.01, 40 is 10
    img = error_map(err, 10.0)
    k, top = error_map_layout(2, 2)
    rgb = (img.permute(1, 2, 0).numpy() * 255).round()
    got = [rgb[top + r * k + k // 2, c * k + k // 2] for r in range(2) for c in range(2)]
    want = (colormap(torch.tensor([[0.0, 0.0, 1 / 3, 1.0]]))[:, 0].T * 255).round().numpy()
    assert np.abs(np.array(got) - want).max() <= 1


def test_every_run_draws_a_sample_on_one_scale_from_its_nominal_range(sweep):
    scales = [json.loads((f / "results.json").read_text())["error_scale"] for f in sweep.values()]
    assert scales[0] == scales[1] == {"00": pytest.approx(63.75), "01": pytest.approx(63.75)}  # 8-bit: 25% of 255
    for folder in sweep.values():
        acc = _events(folder)
        maxima = {e.step: e.value for e in acc.Scalars("00/eval/abs_error_max")}
        assert sorted(maxima) == list(range(LOG, EPOCHS + 1, LOG))
        k, top = error_map_layout(SIZE, SIZE)
        for ev in acc.Images("00/abs_error"):  # the brightest pixel is the map's maximum on the fixed scale
            rgb = imageio.imread(io.BytesIO(ev.encoded_image_string))[top:top + SIZE * k, :SIZE * k, :3]
            want = float(error_fraction(torch.tensor(maxima[ev.step]), 63.75))
            assert _fractions(rgb).max() == pytest.approx(want, abs=0.02)


def test_image_means_at_every_log_epoch_match_results(sweep):
    for folder in sweep.values():
        acc = _events(folder)
        mean = json.loads((folder / "results.json").read_text())["mean"]
        got = {e.step: e.value for e in acc.Scalars("mean/eval/psnr")}
        assert sorted(got) == list(range(LOG, EPOCHS + 1, LOG))
        assert all(got[e] == pytest.approx(mean[str(e)]["psnr"], rel=1e-6) for e in got)
        assert "mean/eval/mse_transformed" in acc.Tags()["scalars"]  # the loss, named for its domain
        scalars = acc.Tags()["scalars"]
        assert "00/train/total_loss" in scalars and not [t for t in scalars if t.endswith("train/mse")]


def test_one_histogram_tag_for_every_transform_on_level_bins(sweep):
    tags = [set(_events(f).Tags()["histograms"]) for f in sweep.values()]
    assert tags[0] == tags[1] == {"00/data/before", "00/data/after", "01/data/before", "01/data/after"}
    acc = _events(sweep["sym_power"])
    before, after = (acc.Histograms(f"00/data/{t}") for t in ("before", "after"))
    assert [e.step for e in before] == [e.step for e in after] == [0, EPOCHS]  # the same data, first and last
    h = after[0].histogram_value
    img = imageio.imread(sweep["sym_power"].parent.parent.parent / "imgs" / "00.png")
    assert h.num == img.size and len(h.bucket) == int(img.max()) - int(img.min()) + 1  # one bucket per level
    assert list(h.bucket) == list(before[0].histogram_value.bucket)  # the same pixels, moved by the transform
    assert "00/data/transform" in acc.Tags()["images"]  # the inspector's figure


def test_parameter_table_has_four_significant_digits(sweep):
    acc = _events(sweep["sym_power"])
    text = acc.Tensors("00/transform/text_summary")[0].tensor_proto.string_val[0].decode()
    rows = dict(line.strip("|").replace(" ", "").split("|") for line in text.splitlines()
                if line.startswith("| ") and "parameter" not in line)
    assert {"gamma", "left", "right", "min", "max"} <= set(rows)
    assert all(len(v.lstrip("-").replace(".", "").lstrip("0")) <= 4 for v in rows.values() if v != "-")


def test_hparams_are_declared_in_order_with_domains(sweep):
    acc = _events(sweep["sym_power"])
    content = acc.PluginTagToContent("hparams")
    experiment = metadata.parse_experiment_plugin_data(content[metadata.EXPERIMENT_TAG])
    backend_context._sort_and_reduce_to_hparams_limit(experiment)  # what TensorBoard does before showing them
    shown = [h.display_name for h in experiment.hparam_infos]
    assert shown[:10] == ["parameter set", "transform", "seed", "backbone", "width", "depth", "lr", "lr schedule",
                          "loss", "epochs"]
    assert shown[10:12] == ["pn_cum", "pn_buffer"] and "input_path" not in shown
    for h in experiment.hparam_infos:  # a string or bool without a domain makes TensorBoard warn
        assert h.type == 3 or len(h.domain_discrete) > 0, h.name  # 3: DATA_TYPE_FLOAT64
    metrics = [m.name.tag for m in experiment.metric_infos]
    assert metrics[:2] == ["mean/eval/psnr", "mean/eval/ssim_ref"] and metrics[-2:] == ["00/eval/psnr", "01/eval/psnr"]
    assert not [t for t in metrics if "mse" in t]  # the loss in each transform's domain is no metric to compare
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    by_label = {h.display_name: start.hparams[h.name] for h in experiment.hparam_infos if h.name in start.hparams}
    assert by_label["parameter set"].string_value == "sym_power" and by_label["seed"].string_value == "5"
    seed = next(h for h in experiment.hparam_infos if h.display_name == "seed")
    assert seed.type == api_pb2.DATA_TYPE_STRING and "5" in seed.domain_discrete
    assert by_label["lr"].number_value == pytest.approx(1e-3) and by_label["lr schedule"].string_value == "decay"
    assert by_label["loss"].string_value == "mse"


def test_transform_figure_labels_itself():
    y, x = np.mgrid[0:32, 0:32]
    data = torch.from_numpy(((x + y) * 4).astype(np.float32)).unsqueeze(0)  # every 4th level of 0 .. 248
    tf = T.build(row_options("sym_power"), 256.0, 0.0).fit(data)
    fig = transform_figure([("img", data, tf.forward(data), tf)], "sym_power")
    before, after, curve = fig.axes
    assert before.get_xlabel().startswith("data value") and before.get_ylabel() == "density"
    assert after.get_xlabel().startswith("transformed value") and curve.get_ylabel() == "transformed value"
    legend = " ".join(t.get_text() for t in before.get_legend().get_texts())
    assert "median" in legend and "min - L" in legend and "max + R" in legend
    centres, edges = level_bins(data)
    assert np.allclose(np.diff(edges), 1) and len(centres) == 249  # one bin per level between min and max
    counts, _, moved = transform_histograms(data, tf)
    assert counts.sum() == data.numel() and (np.diff(moved) > 0).all()


def test_curves_name_rows_band_and_setting(sweep):
    runs = summarize.load_runs(sweep["sym_power"].parent)
    title = summarize.curves_title("001_trans", runs)
    assert f"2 images {SIZE}x{SIZE}" in title and "siren 2x32" in title and f"{EPOCHS} epochs" in title
    assert "imgs" in title
    series = summarize.curves(runs, "ssim_ref")
    assert [s["label"] for s in series] == ["scale_1.0", "sym_power"]  # the table's names, in Table 1's order
    two_seeds = [{"row": "sym_power", "label": "sym_power, 2 seeds", "epochs": [10, 20], "mean": [30.0, 31.0],
                  "std": [0.5, 0.4], "paper": {20: 31.5}}]
    fig = summary_figure([(title, two_seeds, None)], "PSNR", "PSNR (dB)")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("std over seeds" in t for t in legend) and "the paper's value" in legend
    assert fig.axes[0].get_title().replace("\n", " ") == title


def test_a_titles_image_size_comes_from_the_data_folder_quietly(tmp_path, capsys):
    # the folder's notes (files of another type) belong to the fit's log, not to every figure title
    imageio.imwrite(tmp_path / "a.png", np.zeros((3, 5, 3), np.uint8))
    (tmp_path / "README.txt").write_text("about the images")
    assert summarize._image_size(str(tmp_path)) == "3x5"
    assert summarize._image_size(str(tmp_path / "gone")) is None
    assert capsys.readouterr().err == ""


def test_a_long_curves_title_stays_on_the_figure():
    # the demo's title once ran off a one-panel figure's right edge (wrapped at 72 characters)
    title = ("000_demo: demo_input/astronaut_128px.png, 1 image 128x128, siren 3x256, lr 1e-4, decay schedule, "
             "1000 epochs, " + "a/very/long/data/folder/" * 4)
    series = [{"row": "sym_power", "label": "sym_power", "epochs": [250, 500], "mean": [32.5, 36.3], "std": None}]
    for panels in ([(title, series, None)], [(title, series, None), ("short", series, None)]):
        fig = summary_figure(panels, "PSNR", "PSNR (dB)")
        fig.canvas.draw()
        for ax in fig.axes:
            box = ax.title.get_window_extent()
            assert 0 <= box.x0 and box.x1 <= fig.bbox.x1, (ax.get_title(), box, fig.bbox)


def test_paired_comparison_of_real_runs_equals_their_results(sweep, tmp_path, capsys):
    """--baseline --json: per image the row's last-epoch PSNR minus the baseline's, as results.json has them."""
    log = sweep["sym_power"].parent
    assert summarize.main([str(log), "--baseline", "scale_1.0", "--json", str(tmp_path / "c.json"),
                           "--plot", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    got = json.loads((tmp_path / "c.json").read_text())
    assert got["baseline"] == "scale_1.0" and got["metric"] == "psnr" and list(got["rows"]) == ["sym_power"]
    res = {row: json.loads((f / "results.json").read_text())["samples"] for row, f in sweep.items()}
    last = str(EPOCHS)
    want = {i: res["sym_power"][i][last]["psnr"] - res["scale_1.0"][i][last]["psnr"] for i in ("00", "01")}
    row = got["rows"]["sym_power"]
    assert row["per_image"] == pytest.approx(want, abs=1e-9)
    assert row["mean_delta"] == pytest.approx(sum(want.values()) / 2, abs=1e-9)
    assert row["wins"] + row["ties"] + row["losses"] == 2 and row["ci95"][0] <= row["mean_delta"] <= row["ci95"][1]
    assert "paired psnr differences against scale_1.0" in out and "Protocol: lr schedule decay" in out
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_summarize_metric_choice(sweep, tmp_path, capsys):
    log = sweep["sym_power"].parent
    assert summarize.main([str(log), "--plot", str(tmp_path / "c.png"), "--metric", "ssim_ref"]) == 0
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert summarize.main([str(log), "--plot", str(tmp_path / "d.png"), "--metric", "snr"]) == 2  # not recorded
    assert "--metric snr" in capsys.readouterr().err and not (tmp_path / "d.png").exists()
    with pytest.raises(SystemExit) as e:
        summarize.main([str(log), "--plot", str(tmp_path / "e.png"), "--metric", "nope"])
    assert e.value.code == 2


def test_the_printed_tensorboard_command_serves_every_logged_image(tmp_path):
    """The command a sweep prints, run as printed (on a free local port), serves every image of every
    image tag over HTTP: more log epochs than TensorBoard's default of 10 images per tag."""
    data = tmp_path / "imgs"
    data.mkdir()
    imageio.imwrite(data / "00.png", smooth_image(8, 8))
    epochs = 12
    p = run_py("run.py", "001", "--only", "scale_1.0", "--", "--input_path", data, "--save_dir", tmp_path / "log",
               "--num_epochs", epochs, "--log_epoch", "1", "--hidden_features", "8", "--hidden_layers", "1",
               "--quiet", "--device", "cpu", check=True)
    log_dir = tmp_path / "log" / "001_trans"
    assert f"python summarize.py {log_dir} --plot {log_dir / 'curves.png'}" in p.stderr
    printed = [line.strip() for line in p.stderr.splitlines() if line.strip().startswith("tensorboard ")]
    assert len(printed) == 1
    command = shlex.split(printed[0])
    assert command[:3] == ["tensorboard", "--logdir", str(log_dir)] and command[3] == "--samples_per_plugin"
    run = next(f.name for f in log_dir.iterdir() if (f / "args.json").exists())
    logged = {t: len(_events(log_dir / run).Images(t)) for t in _events(log_dir / run).Tags()["images"]}
    assert logged["00/reconstruction"] == epochs and logged["00/abs_error"] == epochs  # more than 10
    try:
        with TensorBoard(command[1:]) as tb:
            served = tb.image_tags([run])[run]
            assert sorted(served) == sorted(logged)
            for tag, n in logged.items():
                images = tb.images(run, tag)
                assert len(images) == n, tag
                assert all(png[:4] == b"\x89PNG" for _, png in images)
            steps = [step for step, _ in tb.images(run, "00/abs_error")]
            assert steps == list(range(1, epochs + 1))
    except NotStarted as e:
        pytest.skip(f"TensorBoard cannot start here: {e}")


def test_custom_scalars_open_on_the_means(sweep):
    from tensorboard.plugins.custom_scalar import layout_pb2

    acc = _events(sweep["sym_power"])
    layout = layout_pb2.Layout.FromString(acc.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0])
    first, per_image = layout.category
    assert first.title.startswith("mean over images")
    charts = {c.title: list(c.multiline.tag) for c in first.chart}
    assert charts["psnr"] == ["^mean/eval/psnr$"] and "mse_transformed" not in charts
    regex = re.compile(next(c for c in per_image.chart if c.title == "psnr").multiline.tag[0])
    assert regex.match("00/eval/psnr") and not regex.match("mean/eval/psnr")


def test_run_folder_names_are_short_sortable_and_unique(tmp_path):
    from util.misc import new_run_folder

    names = [os.path.basename(new_run_folder(tmp_path, "001_trans", f"{s}_seed{n}"))
             for s in ("sym_power", "scale_1.0") for n in (2, 1)]
    assert len(set(names)) == 4 and ":" not in "".join(names)
    assert all(re.fullmatch(r"[a-z_.0-9]+_seed\d_\d{6}-\d{6}_[a-z]{4}", n) for n in names)
    assert [n.split("_seed")[0] + n.split("_seed")[1][:1] for n in sorted(names)] == \
        ["scale_1.01", "scale_1.02", "sym_power1", "sym_power2"]  # by name: a set's seeds together


def test_a_sweep_of_several_sets_prints_the_paired_comparison(tmp_path):
    import run

    tasks = [(s, str(tmp_path / f"{s}_{n}")) for s in ("sym_power", "scale_1.0") for n in (1, 2)]
    tb, table = run.next_steps(str(tmp_path), tasks)
    assert tb.endswith("--samples_per_plugin images=100")  # no args.json yet: the generous constant
    assert f"--baseline scale_1.0 --plot {tmp_path / 'curves.png'}" in table
    assert "--baseline" not in run.next_steps(str(tmp_path), tasks[:2])[1]  # one set: nothing to pair
    protocols = [(f"{r}@{p}", str(tmp_path / f"{r}{p}")) for p in ("decay_1e-4", "constant_1e-4")
                 for r in ("scale_1.0", "sym_power")]
    assert "--baseline scale_1.0 --plot" in run.next_steps(str(tmp_path), protocols)[1]  # each protocol's own

