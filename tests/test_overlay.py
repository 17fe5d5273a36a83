"""A sweep's transformed histograms overlaid in one picture per sample (sweep/overlay.py), read back
from the runs' own event files."""
import json

import numpy as np
from torch.utils.tensorboard import SummaryWriter
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from sweep.overlay import OVERLAY, SETS, after_histograms, set_means, write_overlay, write_set_sessions


def _run(folder, samples, shift):
    """A run folder's events with `<sample>/data/after` histograms as the trainer writes them."""
    w = SummaryWriter(str(folder))
    for i, name in enumerate(samples):
        edges = np.linspace(-1, 1, 9) + shift
        counts = np.arange(1, 9) * (i + 1)
        w.add_histogram_raw(f"{name}/data/after", float(edges[0]), float(edges[-1]), int(counts.sum()), 0.0, 0.0,
                            edges[1:].tolist(), counts.tolist(), 0)
    w.close()
    return str(folder)


def test_every_set_of_a_sweep_in_one_picture_per_sample(tmp_path):
    a = _run(tmp_path / "scale_1.0_x", ["00", "01"], 0.0)
    b = _run(tmp_path / "sym_power_x", ["00", "01"], 0.1)
    seed2 = _run(tmp_path / "sym_power_seed2_x", ["00", "01"], 0.5)  # a second seed of a set: not drawn again
    hist = after_histograms(a)
    assert set(hist) == {"00", "01"} and len(hist["00"][0]) == len(hist["00"][1]) + 1
    assert hist["01"][1] == list(np.arange(1, 9) * 2.0)
    written = write_overlay(str(tmp_path), [("scale_1.0", a), ("sym_power", b), ("sym_power", seed2)])
    assert [p.rsplit("/", 1)[1] for p in written] == ["00_after.png", "01_after.png"]
    assert all(open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for p in written)
    acc = EventAccumulator(str(tmp_path / OVERLAY))
    acc.Reload()
    assert sorted(acc.Tags()["images"]) == ["00/data/after, every set", "01/data/after, every set"]
    write_overlay(str(tmp_path), [("scale_1.0", a), ("sym_power", b)])  # a resumed sweep: written anew
    assert len(list((tmp_path / OVERLAY).glob("events.out.tfevents.*"))) == 1


def test_one_set_has_nothing_to_compare(tmp_path):
    a = _run(tmp_path / "sym_power_x", ["00"], 0.0)
    assert write_overlay(str(tmp_path), [("sym_power", a), ("sym_power", a)]) == []
    assert not (tmp_path / OVERLAY).exists()


def test_the_sweeps_run_holds_each_sets_mean_over_seeds(tmp_path):
    runs = []
    for label, seed, psnr in (("scale_1.0", 1, 30.0), ("scale_1.0", 2, 31.0), ("sym_power", 1, 32.5)):
        folder = tmp_path / f"{label}_seed{seed}"
        _run(folder, ["00"], 0.0)
        (folder / "results.json").write_text(json.dumps({"mean": {"500": {"psnr": 1.0}, "2000": {"psnr": psnr}}}))
        runs.append((label, str(folder)))
    write_set_sessions(str(tmp_path), set_means(runs))
    sessions = EventAccumulator(str(tmp_path / SETS / "scale_1.0"))  # HParams: a row per set, its seeds' mean
    sessions.Reload()
    assert "_hparams_/session_start_info" in sessions.PluginTagToContent("hparams")
    assert [(e.step, e.value) for e in sessions.Scalars("mean/eval/psnr")] == [(2000, 30.5)]
    start = sessions.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    assert b"scale_1.0, mean of 2 seed(s)" in start
