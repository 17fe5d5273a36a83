"""Every file and option checked at the door: the families of bad input of issue #22, in-process
through main.main, run.main and the summariser. Each ends with exit 2 and one error line (or 0 where
the input is fine), writes nothing outside the folder it was given, and leaves no half-written run."""
import json
import os
import shutil

import numpy as np
import pytest
import torch

import main as main_py
import run as run_py
from tests.conftest import image_folder, smooth_image, write_png
import summarize

TINY = ["--num_epochs", "6", "--log_epoch", "3", "--snap_epoch", "3", "--hidden_features", "8", "--hidden_layers", "1",
        "--quiet", "--device", "cpu", "--no_images", "--eager"]


def refused(capsys, rc, *needles):
    """Exit 2 with exactly one error line naming each needle (by meaning: a word or the file)."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert rc == 2 and len(errors) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A real run of two 16 px images, as a run killed after sample 1's epoch-3 checkpoint leaves it."""
    base = tmp_path_factory.mktemp("made")
    data = image_folder(base / "data", ["0", "1"])
    assert main_py.main(["--input_path", str(data), "--save_dir", str(base / "log"), *TINY]) == 0
    (run,) = (base / "log" / "debug").iterdir()
    mid = next(p.name for p in (run / "ckpt").glob("ckpt_1_3_*.pth"))
    (run / "ckpt" / "latest.json").write_text(json.dumps({"file": mid, "sample": "1", "epoch": 3}))
    res = json.loads((run / "results.json").read_text())
    (run / "results.json").write_text(json.dumps({**res, "complete": False}))
    return base


@pytest.fixture
def work(made, tmp_path):
    """A fresh copy of the interrupted run (with its data beside it): (run folder, data folder)."""
    shutil.copytree(made, tmp_path / "w", symlinks=True)
    (run,) = (tmp_path / "w" / "log" / "debug").iterdir()
    args = json.loads((run / "args.json").read_text())
    args["input_path"] = str(tmp_path / "w" / "data")
    (run / "args.json").write_text(json.dumps(args))
    return run, tmp_path / "w" / "data"


def test_the_interrupted_run_resumes(work, capsys):
    run, _ = work
    assert main_py.main(["--resume", str(run)]) == 0
    assert json.loads((run / "results.json").read_text())["complete"]


@pytest.mark.parametrize("latest,needle", [
    ("{corrupt", "not valid JSON"), ("3", "must hold an object"), ('{"file": 3, "sample": "1", "epoch": 3}', "'file'"),
    ('{"file": "../../outside.pth", "sample": "1", "epoch": 3}', "'file'"),
    ('{"file": "gone.pth", "sample": "1", "epoch": 3}', "does not exist")])
def test_a_bad_latest_json_is_refused_and_the_run_left_as_it_was(work, capsys, latest, needle):
    run, _ = work
    (run / "ckpt" / "latest.json").write_text(latest)
    before = (run / "results.json").read_text()
    refused(capsys, main_py.main(["--resume", str(run)]), "latest.json", needle)
    assert (run / "results.json").read_text() == before  # a folder only read at the door is not touched


def test_a_latest_checkpoint_linked_from_outside_is_refused(work, capsys):
    run, _ = work
    latest = json.loads((run / "ckpt" / "latest.json").read_text())
    src = run / "ckpt" / latest["file"]
    outside = run.parent / "outside.pth"
    src.rename(outside)
    src.symlink_to(outside)
    refused(capsys, main_py.main(["--resume", str(run)]), "does not lie inside")


@pytest.mark.parametrize("args,needle", [("[1, 2]", "object of options"), ('{"num_epochs": "6"}', "num_epochs"),
                                         ('{"lr": "fast"}', "lr"), ('{"seed": -1}', "seed"),
                                         ('{"transform": "gauss"}', "transform"),
                                         ('{"transform": "sym_power"}', "fitted with --transform")])
def test_a_hand_edited_args_json_is_refused(work, capsys, args, needle):
    run, _ = work
    saved = json.loads((run / "args.json").read_text())
    edit = json.loads(args)
    (run / "args.json").write_text(json.dumps({**saved, **edit} if isinstance(edit, dict) else edit))
    refused(capsys, main_py.main(["--resume", str(run)]), "args.json", needle)


@pytest.mark.parametrize("size,channels", [((20, 16), 3), ((16, 16), 1)])
def test_resume_onto_other_data_is_refused_before_anything_is_written(work, capsys, size, channels):
    run, data = work
    write_png(data / "1.png", smooth_image(*size, c=channels))
    listing = sorted(p.name for p in run.rglob("*"))
    before = (run / "results.json").read_text()
    refused(capsys, main_py.main(["--resume", str(run)]), "1.png", "shape")
    assert sorted(p.name for p in run.rglob("*")) == listing and (run / "results.json").read_text() == before


@pytest.mark.parametrize("edit", ["nan", "complex", "shape", "perm", "video", "nominal", "optimizer", "rng",
                                  "transform name"])
def test_a_tampered_checkpoint_is_refused_on_resume_and_decode(work, capsys, edit):
    run, data = work
    path = run / "ckpt" / json.loads((run / "ckpt" / "latest.json").read_text())["file"]
    state = torch.load(path, weights_only=True)
    key = "net.0.linear.weight"
    if edit == "nan":
        state["model"][key] = torch.full_like(state["model"][key], float("nan"))
    elif edit == "complex":
        state["model"][key] = state["model"][key].to(torch.complex64)
    elif edit == "shape":
        state["model"][key] = state["model"][key][:4]
    elif edit == "perm":
        state["prepare"]["perm"] = torch.arange(100)
    elif edit == "video":
        state["signal"]["type"] = state["args"]["signal_type"] = "video"
    elif edit == "nominal":
        state["signal"]["nominal"]["hi"] = float("nan")
    elif edit == "optimizer":
        state["optimizer"]["state"][0]["exp_avg"] = torch.zeros(3)
    elif edit == "transform name":  # any JSON type where a name stands: one line, not "unhashable type"
        state["transform"]["name"] = [state["transform"]["name"]]
    else:
        state["rng"]["torch"] = torch.zeros(4, dtype=torch.uint8)
    torch.save(state, path)
    refused(capsys, main_py.main(["--resume", str(run)]))
    if edit not in ("optimizer", "rng"):  # what decoding does not use
        out = path.parent.parent.parent / "decoded"
        refused(capsys, main_py.main(["--eval_ckpt", str(path), "--input_path", str(data), "--save_dir", str(out)]))
        assert not out.exists()


def test_decoding_a_tree_through_a_link_still_refuses_a_save_dir_inside_it(work, capsys, tmp_path):
    run, data = work
    link = tmp_path / "link"
    link.symlink_to(run.parent.parent)
    refused(capsys, main_py.main(["--eval_ckpt", str(link), "--input_path", str(data), "--save_dir",
                                  str(run.parent.parent / "out")]), "only read")


# ---- run.py -----------------------------------------------------------------------------------------

def _sweep(tmp_path, task):
    log = tmp_path / "001_trans"
    log.mkdir()
    (log / "sweep.json").write_text(json.dumps({"experiment": "001", "tasks": [task]}))
    return log


@pytest.mark.parametrize("task,needle", [
    ({"name": "t", "argv": ["--input_path", "x.png", "--run_folder", "/elsewhere/r"], "status": "pending"}, "inside"),
    ({"name": "../../../X", "argv": ["--run_folder", "r"], "status": "pending"}, "plain file name"),
    ({"name": "t", "argv": ["--input_path", "x.png"], "status": "pending", "folder": "../r"}, "inside"),
    ({"name": "t", "argv": "--input_path x.png", "status": "pending"}, "argv")])
def test_a_sweep_json_cannot_send_a_task_outside_its_folder(tmp_path, capsys, task, needle):
    log = _sweep(tmp_path, task)
    refused(capsys, run_py.main(["--resume", str(log), "--gpus", ""]), "sweep.json", needle)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["001_trans", "sweep.json"]


@pytest.mark.parametrize("jobs", ["{corrupt", "[]", '{"jobs": {"t": {"job_id": "1", "folder": "/elsewhere"}}}',
                                  '{"jobs": {"../x": {"job_id": "1"}}}'])
def test_status_of_a_corrupt_jobs_json_is_one_line(tmp_path, capsys, jobs):
    (tmp_path / "jobs.json").write_text(jobs)
    refused(capsys, run_py.main(["--status", str(tmp_path)]), "jobs.json")


@pytest.mark.parametrize("argv,needle", [
    (["001", "--seeds", "-1"], "seed"), (["001", "--seeds", str(2 ** 70)], "seed"), (["001", "--seeds", "1,,2"], "empty"),
    (["001", "--only", ","], "--only"), (["001", "--gpus", "a"], "--gpus"), (["--resume", "/nonexistent/x"], "no such"),
    (["001", "--launcher", "local", "--time", "-1"], "--time"), (["001", "--", "--seed", "-3"], "--seed"),
    (["001", "--", "--tag", "../../x"], "--tag")])
def test_run_py_options_are_refused_in_one_line(capsys, argv, needle):
    refused(capsys, run_py.main(argv + (["--dry_run"] if argv[0] == "001" and "--" not in argv else [])), needle)


def test_resume_on_a_folder_that_is_no_sweep_is_an_error(tmp_path, capsys):
    (tmp_path / "stuff").mkdir()
    refused(capsys, run_py.main(["--resume", str(tmp_path), "--gpus", ""]), "not a sweep")


def test_the_demo_writes_its_input_under_the_save_dir_it_was_given(tmp_path, monkeypatch, capsys):
    import sweep.demo

    seen = {}

    def profile(args, gpus, save_dir):
        seen["save_dir"] = save_dir
        raise run_py.UserError("stop here")  # the fit itself is another test's

    monkeypatch.setattr(sweep.demo, "demo_profile", profile)
    monkeypatch.chdir(tmp_path)
    run_py.main(["000", "--gpus", "", "--", "--save_dir", str(tmp_path / "out")])
    assert seen["save_dir"] == str(tmp_path / "out")


# ---- options ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("opts,needle", [
    (["--seed", "-1"], "--seed"), (["--seed", str(2 ** 70)], "--seed"), (["--device", "nonsense"], "--device"),
    (["--device", "meta"], "--device"), (["--lr", "1e30"], "--lr"), (["--trans_shift", "1e30"], "--trans_shift"),
    (["--N_freqs", "2000"], "--N_freqs"), (["--audio_seconds", "1e-9"], "--audio_seconds"),
    (["--trans_scale", "1e-45"], "--trans_scale"), (["--gamma_trans", "1e-30"], "--gamma_trans"),
    (["--pn_cum", "1e-300"], "--pn_cum"), (["--pn_alpha", "1e-9"], "--pn_alpha"),
    (["--model_type", "wire", "--hidden_features", "1"], "WIRE"), (["--eval_ckpt", "x", "--resume", "y"], "--resume"),
    (["--up_folder_name", "/abs"], "--up_folder_name"), (["--up_folder_name", "../up"], "--up_folder_name"),
    (["--tag", "../../x"], "--tag")])
def test_options_the_method_cannot_work_with_are_refused(tmp_path, capsys, opts, needle):
    rc = main_py.main(["--input_path", str(tmp_path / "x.png"), "--save_dir", str(tmp_path / "log"), *opts])
    refused(capsys, rc, needle)
    assert not (tmp_path / "log").exists()


def test_a_save_dir_link_cannot_lead_the_run_folder_out(tmp_path, capsys):
    (tmp_path / "log").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "log" / "debug").symlink_to(tmp_path / "elsewhere")
    rc = main_py.main(["--input_path", str(tmp_path / "x.png"), "--save_dir", str(tmp_path / "log")])
    refused(capsys, rc, "--up_folder_name")


# ---- failures during the fit ------------------------------------------------------------------------

def test_a_diverged_fit_stops_naming_the_epoch_and_marks_its_run_failed(tmp_path, capsys, monkeypatch):
    step = torch.optim.Adam.step
    calls = []

    def poisoned(self, *a, **k):
        out = step(self, *a, **k)
        calls.append(1)
        if len(calls) == 4:  # the weights blow up during epoch 4
            with torch.no_grad():
                for g in self.param_groups:
                    for p in g["params"]:
                        p.fill_(float("inf"))
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", poisoned)
    img = write_png(tmp_path / "a.png", smooth_image(16, 16))
    rc = main_py.main(["--input_path", str(img), "--save_dir", str(tmp_path / "log"), *TINY])
    line = refused(capsys, rc, "diverged at epoch 5", "--lr")
    (res_path,) = (tmp_path / "log").rglob("results.json")
    res = json.loads(res_path.read_text())
    assert res["failed"] and res["error"] in line and not res["complete"]
    assert list(res["samples"].get("a", {})) == ["3"]  # epoch 3's metrics stay; nothing was recorded as null
    assert not list((tmp_path / "log").rglob("ckpt_a_6_*.pth"))  # a diverged model is never saved


def test_a_run_that_stops_on_bad_input_after_its_folder_exists_says_why(tmp_path, capsys):
    img = np.full((8, 8, 3), 0, np.uint8)
    img[2:, 2:] = 200
    path = write_png(tmp_path / "dark.png", img)
    rc = main_py.main(["--input_path", str(path), "--save_dir", str(tmp_path / "log"), "--transform", "box_cox",
                       "--box_shift", "0", *TINY])
    line = refused(capsys, rc, "box_cox")
    (res_path,) = (tmp_path / "log").rglob("results.json")
    res = json.loads(res_path.read_text())
    assert res["failed"] and res["error"] in line


# ---- tables -----------------------------------------------------------------------------------------

def _run(folder, args, results=None, table=None):
    folder.mkdir(parents=True)
    (folder / "args.json").write_text(json.dumps(args))
    if results is not None:
        (folder / "results.json").write_text(json.dumps(results))
    if table is not None:
        (folder / "res_table.md").write_text(table)


GOOD = {"samples": {}, "mean": {"5": {"psnr": 30.0, "ssim_ref": 0.9}}, "attributes": None, "complete": True}
TABLE = ("+---------+------+\n| epoch_{e} | psnr |\n+---------+------+\n| 00 | 20.5 |\n| mean | 20.5 |\n"
         "+---------+------+\n")


def _summary(capsys, tree):
    rc = summarize.main([str(tree)])
    out = capsys.readouterr()
    assert rc == 0 and "Traceback" not in out.err, out.err
    return out.out


def test_names_in_tables_are_data_not_markup(tmp_path, capsys):
    _run(tmp_path / "001_trans" / "r1", {"tag": "a|b\n## forged\n| x | y |", "num_epochs": 5}, GOOD)
    out = _summary(capsys, tmp_path)
    rows = [line for line in out.splitlines() if line.startswith("|")]
    assert len(rows) == 3 and not any(line.startswith("#") for line in out.splitlines()[1:])
    assert rows[2].count(" | ") == rows[0].count(" | ")  # the forged '|' is escaped, not a column

    from util.recorder import Recorder

    rec = Recorder(5, "decay", "mse")
    rec.record("x|y\n## z", 5, {"psnr": 1.0})
    table = rec.res_table()
    assert "## z" not in table.splitlines() and "x\\|y" in table


@pytest.mark.parametrize("results,needle", [({**GOOD, "mean": [1, 2]}, "mean"),
                                            ({**GOOD, "mean": {"5": {"psnr": "30"}}}, "psnr"),
                                            ({**GOOD, "mean": {"five": {"psnr": 1.0}}}, "epoch")])
def test_unreadable_results_are_named_not_tabulated(tmp_path, capsys, results, needle):
    _run(tmp_path / "001_trans" / "r1", {"tag": "bad", "num_epochs": 5}, results)
    _run(tmp_path / "001_trans" / "r2", {"tag": "good", "num_epochs": 5}, GOOD)
    out = _summary(capsys, tmp_path)
    bad = next(line for line in out.splitlines() if line.startswith("| bad"))
    assert "unreadable" in bad and needle in bad
    assert "30.00" in next(line for line in out.splitlines() if line.startswith("| good"))


@pytest.mark.parametrize("table,needle", [(TABLE.format(e="abc"), "epoch_abc"), (TABLE.format(e="-5"), "epoch_-5"),
                                          (TABLE.format(e="5") * 2, "twice")])
def test_impossible_or_duplicated_published_epochs_are_named(tmp_path, capsys, table, needle):
    _run(tmp_path / "001_trans" / "r1", {"tag": "pub", "num_epochs": 5}, table=table)
    out = _summary(capsys, tmp_path)
    row = next(line for line in out.splitlines() if line.startswith("| pub"))
    assert "unreadable" in row and needle in row and "20.50" not in row


def test_a_res_table_linked_from_outside_is_not_that_runs_numbers(tmp_path, capsys):
    (tmp_path / "outside.md").write_text(TABLE.format(e="5"))
    _run(tmp_path / "log" / "001_trans" / "r1", {"tag": "pub", "num_epochs": 5})
    (tmp_path / "log" / "001_trans" / "r1" / "res_table.md").symlink_to(tmp_path / "outside.md")
    out = _summary(capsys, tmp_path / "log")
    assert "20.50" not in out and "outside" in out


def test_a_deep_tree_is_walked_without_recursion_error(tmp_path, capsys):
    _run(tmp_path / "001_trans" / "r1", {"tag": "good", "num_epochs": 5}, GOOD)
    d = str(tmp_path / "001_trans")
    for _ in range(1100):
        d = os.path.join(d, "d")
        os.mkdir(d)
    try:
        assert "30.00" in _summary(capsys, tmp_path)
        assert run_py.main(["--resume", str(tmp_path / "001_trans"), "--gpus", ""]) == 0  # its one run has finished
        assert "every task has finished" in capsys.readouterr().err
        from trainer.decode import last_checkpoints

        assert last_checkpoints(str(tmp_path)) == {}
    finally:  # pytest's own clean-up recurses: take the tree down one level at a time
        while d != str(tmp_path / "001_trans"):
            os.rmdir(d)
            d = os.path.dirname(d)


# ---- signals ----------------------------------------------------------------------------------------

def test_signals_that_cannot_be_fitted_are_refused_before_a_run_folder(tmp_path, capsys):
    import soundfile as sf

    import tifffile

    five = tmp_path / "five.tif"
    tifffile.imwrite(five, np.zeros((8, 8, 5), np.uint8), photometric="minisblack", planarconfig="contig")
    odd = tmp_path / "odd"
    odd.mkdir()
    write_png(odd / "a.png", smooth_image(8, 8))
    write_png(os.path.join(os.fsencode(odd), b"\xff.png").decode("utf-8", "surrogateescape"), smooth_image(8, 8))
    wav = tmp_path / "one.wav"
    sf.write(wav, np.zeros((1, 1)), 16000)
    frames = tmp_path / "frames"
    frames.mkdir()
    write_png(frames / "0.png", smooth_image(8, 8))
    write_png(frames / "1.png", smooth_image(8, 8, dtype=np.uint16))
    cases = [(["--input_path", str(five)], "5 channels"), (["--input_path", str(odd)], "UTF-8"),
             (["--input_path", str(wav), "--signal_type", "audio"], "at least 2"),
             (["--input_path", str(frames), "--signal_type", "video"], "bit depth"),
             (["--input_path", str(odd / "a.png"), "--signal_type", "video"], "not a video")]
    for argv, needle in cases:
        refused(capsys, main_py.main([*argv, "--save_dir", str(tmp_path / "log"), *TINY]), needle)
    assert not (tmp_path / "log").exists()
