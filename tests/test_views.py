"""What researchers look at, read back as TensorBoard and matplotlib hold it: error maps on one scale
per run, image means at every log epoch, one histogram tag for every transform, a declared HParams
table, and figures that label themselves."""
import io
import json

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import backend_context, metadata

import main
from components import transform as T
from opt import row_options
from tests.conftest import image_folder, run_py, smooth_image
from util import summarize
from util.plot import curves_figure, level_bins, transform_figure, transform_histograms
from util.tensorboard import colormap, error_map, error_map_layout

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


def test_error_map_pixels_follow_one_scale():
    err = torch.tensor([[0.0, 5.0], [10.0, 40.0]])  # levels; the scale is 10: 40 is drawn as 10
    img = error_map(err, 10.0)
    k, top = error_map_layout(2, 2)
    rgb = (img.permute(1, 2, 0).numpy() * 255).round()
    got = [rgb[top + r * k + k // 2, c * k + k // 2] for r in range(2) for c in range(2)]
    want = (colormap(torch.tensor([[0.0, 0.5, 1.0, 1.0]]))[:, 0].T * 255).round().numpy()
    assert np.abs(np.array(got) - want).max() <= 1


def test_error_maps_keep_the_first_epochs_scale_and_it_survives_in_the_checkpoint(sweep):
    for folder in sweep.values():
        acc = _events(folder)
        maxima = {e.step: e.value for e in acc.Scalars("00/eval/abs_error_max")}
        assert sorted(maxima) == list(range(LOG, EPOCHS + 1, LOG))
        scale = maxima[LOG]
        assert min(maxima.values()) < 0.8 * scale  # the fit improved, so a per-frame scale would differ
        k, top = error_map_layout(SIZE, SIZE)
        for ev in acc.Images("00/abs_error"):
            rgb = imageio.imread(io.BytesIO(ev.encoded_image_string))[top:top + SIZE * k, :SIZE * k, :3]
            assert _fractions(rgb).max() * scale == pytest.approx(maxima[ev.step], rel=0.02, abs=0.02 * scale)
        final = [f for f in (folder / "ckpt").glob("ckpt_00_*.pth")]
        state = torch.load(max(final, key=lambda f: f.stat().st_mtime), weights_only=False)
        assert state["signal"]["meta"]["error_scale"] == pytest.approx(scale, rel=1e-6)


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
    assert len(before) == len(after) == 1  # written once, at step 0
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
    assert shown[:9] == ["parameter set", "transform", "seed", "backbone", "width", "depth", "lr", "lr schedule",
                         "epochs"]
    assert shown[9:11] == ["pn_cum", "pn_buffer"] and "input_path" not in shown
    for h in experiment.hparam_infos:  # a string or bool without a domain makes TensorBoard warn
        assert h.type == 3 or len(h.domain_discrete) > 0, h.name  # 3: DATA_TYPE_FLOAT64
    assert [m.name.tag for m in experiment.metric_infos][:2] == ["mean/eval/psnr", "mean/eval/ssim_ref"]
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    by_label = {h.display_name: start.hparams[h.name] for h in experiment.hparam_infos if h.name in start.hparams}
    assert by_label["parameter set"].string_value == "sym_power" and by_label["seed"].number_value == 5
    assert by_label["lr"].number_value == pytest.approx(1e-3) and by_label["lr schedule"].string_value == "decay"


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
    assert [s[0] for s in series] == ["scale_1.0", "sym_power"]  # the table's names, in Table 1's order
    two_seeds = [("sym_power, 2 seeds", [10, 20], [30.0, 31.0], [0.5, 0.4])]
    fig = curves_figure([(title, two_seeds)], "PSNR")
    assert any("std over seeds" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert fig.axes[0].get_title() == title


def test_summarize_metric_choice(sweep, tmp_path, capsys):
    log = sweep["sym_power"].parent
    assert summarize.main([str(log), "--plot", str(tmp_path / "c.png"), "--metric", "ssim_ref"]) == 0
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert summarize.main([str(log), "--plot", str(tmp_path / "d.png"), "--metric", "snr"]) == 2  # not recorded
    assert "--metric snr" in capsys.readouterr().err and not (tmp_path / "d.png").exists()
    with pytest.raises(SystemExit) as e:
        summarize.main([str(log), "--plot", str(tmp_path / "e.png"), "--metric", "nope"])
    assert e.value.code == 2


def test_sweep_ends_with_the_commands_to_look_at_it(tmp_path):
    data = tmp_path / "imgs"
    data.mkdir()
    imageio.imwrite(data / "00.png", smooth_image(8, 8))
    p = run_py("run.py", "001", "--only", "scale_1.0", "--", "--input_path", data, "--save_dir", tmp_path / "log",
               "--num_epochs", "2", "--log_epoch", "1", "--hidden_features", "8", "--hidden_layers", "1",
               "--quiet", "--device", "cpu", "--no_images", check=True)
    log_dir = tmp_path / "log" / "001_trans"
    assert f"tensorboard --logdir {log_dir} --samples_per_plugin images=0" in p.stderr
    assert f"python -m util.summarize {log_dir} --plot {log_dir / 'curves.png'}" in p.stderr
