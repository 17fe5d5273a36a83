"""What researchers look at: TensorBoard summaries, progress lines, the transform plot, submitit sweeps."""
import json

import imageio.v2 as imageio
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import dataset, one_line_error, run_folder, run_in_process, run_py, smooth_image

SMALL = ["--num_epochs", "20", "--log_epoch", "10", "--hidden_features", "16", "--hidden_layers", "1", "--quiet",
         "--device", "cpu"]


def _events(folder):
    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "histograms": 0, "tensors": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_events_hold_images_histograms_hparams_and_scalars(tiny_png, tmp_path):
    p = run_in_process("main.py", "--input_path", tiny_png, "--transform", "sym_power", "--save_dir", tmp_path / "log",
               *SMALL, check=True)
    assert "eta" in p.stderr  # --quiet: plain periodic lines
    acc = _events(run_folder(tmp_path / "log"))
    tags = acc.Tags()
    assert {"00/target", "00/reconstruction"} <= set(tags["images"])
    # the error map keeps one tag across log epochs (one card with a step slider); its scale is a scalar
    assert [t for t in tags["images"] if "abs_error" in t] == ["00/abs_error"]
    assert len(acc.Images("00/abs_error")) == 2 and "00/eval/abs_error_max" in tags["scalars"]
    assert len(acc.Images("00/reconstruction")) == 2  # one per log epoch
    assert {"00/data/before", "00/data/after"} <= set(tags["histograms"])  # one tag for every transform
    scalars = set(tags["scalars"])
    assert {"00/train/total_loss", "00/train/psnr", "00/eval/psnr", "00/eval/ssim_ref"} <= scalars
    assert [e.step for e in acc.Scalars("00/train/psnr")] == list(range(1, 21))  # every step, none lost
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(acc.PluginTagToContent("hparams"))
    assert "mean/eval/psnr" in scalars  # what the HParams metrics read
    assert any("transform" in t for t in tags["tensors"])  # the fitted parameters as text


def test_main_py_as_a_process_leaves_every_record_whole(tiny_png, tmp_path):
    """main.py run as users run it ends in util.heap.leave (no last garbage collection): the events of every
    step, results.json, the log's last line and the checkpoint are all written by then."""
    p = run_py("main.py", "--input_path", tiny_png, "--save_dir", tmp_path / "log", *SMALL, check=True)
    folder = run_folder(tmp_path / "log")
    acc = _events(folder)
    assert [e.step for e in acc.Scalars("00/train/psnr")] == list(range(1, 21))
    assert [e.step for e in acc.Scalars("00/eval/psnr")] == [10, 20]
    results = json.loads((folder / "results.json").read_text())
    assert abs(results["samples"]["00"]["20"]["psnr"] - acc.Scalars("00/eval/psnr")[-1].value) < 1e-4  # float32 there
    assert (folder / "log.txt").read_text().splitlines()[-1] == p.stderr.splitlines()[-1]
    assert " done: " in p.stderr.splitlines()[-1] and len(list((folder / "ckpt").glob("*.pth"))) == 1


def test_no_images_turns_pictures_off(tiny_png, tmp_path):
    run_in_process("main.py", "--input_path", tiny_png, "--save_dir", tmp_path / "log", *SMALL, "--no_images", check=True)
    assert _events(run_folder(tmp_path / "log")).Tags()["images"] == []


def test_audio_events_hold_sound(tmp_path):
    run_in_process("main.py", "--signal_type", "audio", "--input_path", "builtin:chirp", "--audio_seconds", "0.2",
           "--save_dir", tmp_path / "log", *SMALL, check=True)
    assert {"chirp/target", "chirp/reconstruction"} <= set(_events(run_folder(tmp_path / "log")).Tags()["audio"])


def test_transform_plot(tmp_path):
    out = tmp_path / "hist.png"
    p = run_in_process("-m", "components.transform", dataset("div2k/test_data"), "--plot", out, check=True)
    assert "first 4 of 16 files" in p.stderr
    assert imageio.imread(out).ndim == 3


def test_local_submitit_sweep_summarises_like_a_queue_sweep(tmp_path):
    data = tmp_path / "imgs"
    data.mkdir()
    imageio.imwrite(data / "00.png", smooth_image(12, 12))
    p = run_in_process("run.py", "001", "--launcher", "local", "--only", "scale_1.0,sym_power", "--", "--input_path", data,
               "--save_dir", tmp_path / "log", *SMALL, check=True)
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 2 and all(" done " in line for line in lines)
    jobs = json.loads((tmp_path / "log" / "001_trans" / "jobs.json").read_text())["jobs"]
    assert set(jobs) == {"scale_1.0", "sym_power"} and all(j["job_id"] and j["folder"] for j in jobs.values())
    status = run_in_process("run.py", "--status", tmp_path / "log" / "001_trans", check=True)
    assert status.stdout == p.stdout
    table = run_in_process("summarize.py", tmp_path / "log" / "001_trans", check=True).stdout
    rows = [line for line in table.splitlines() if line.startswith("| s")]
    assert [r.split("|")[1].strip() for r in rows] == ["scale_1.0", "sym_power"] and all(" ok |" in r for r in rows)
    again = run_in_process("run.py", "001", "--launcher", "local", "--only", "scale_1.0", "--", "--input_path", data,
                           "--save_dir", tmp_path / "log", *SMALL, check=True)  # a second submit into the folder
    jobs = json.loads((tmp_path / "log" / "001_trans" / "jobs.json").read_text())["jobs"]
    assert set(jobs) == {"scale_1.0", "sym_power", "scale_1.0+2"}  # the record only gains jobs
    assert len(again.stdout.strip().splitlines()) == 3


def test_slurm_needs_a_partition_and_status_needs_jobs(tmp_path):
    one_line_error(run_in_process("run.py", "001", "--launcher", "slurm", "--save_dir", tmp_path), "--partition")
    one_line_error(run_in_process("run.py", "--status", tmp_path), tmp_path, "jobs.json")
