"""The experiment layer: config, manager, run.py's queue and report, the summariser, download.py."""
import functools
import http.server
import json
import os
import shlex
import shutil
import threading
from pathlib import Path

import imageio.v2 as imageio
import pytest

from config import PARAM_SETS, ROWS
from tests.conftest import (KILL_AFTER_SNAPSHOT, ROOT, dataset, one_line_error, run_in_process, run_py,
                            sitecustomize_env, smooth_image)
from tests.test_paper_filter import table1_run

TINY = ["--hidden_features", "16", "--hidden_layers", "1", "--quiet", "--device", "cpu", "--no_images"]


def _parse_line(line):
    words = shlex.split(line)
    assert words[:2] == ["python", "main.py"]
    opts, i = {}, 2
    while i < len(words):
        key = words[i][2:]
        if i + 1 < len(words) and not words[i + 1].startswith("--"):
            opts[key], i = words[i + 1], i + 2
        else:
            opts[key], i = True, i + 1
    return opts


def test_dry_run_lists_table1_rows_with_protocol_options():
    p = run_in_process("run.py", "001", "--dry_run", check=True)
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 11 and all(line.count("main.py") == 1 for line in lines)
    assert "main.py" not in p.stderr
    for line, row in zip(lines, PARAM_SETS["001"]):
        opts = _parse_line(line)
        assert opts["tag"] == row and opts["up_folder_name"] == "001_trans" and "multi_data" not in opts
        assert opts["input_path"] == "data/div2k/test_data"
        for k, v in ROWS[row].items():
            assert opts[k] == (True if v is True else str(v)), (row, k)


def test_every_task_name_is_one_the_sweep_record_reads_back():
    """A task is named <set> or <set>_seed<N> (run.py --seeds), and sweep.json holds those names: the
    reader's plain-name rule must take every set of every experiment (008's `scale_1.0@decay_1e-4`
    once failed it, and a second sweep into the folder stopped on its own record)."""
    from util.readers import is_name

    names = [f"{s}{seed}" for sets in PARAM_SETS.values() for s in sets for seed in ("", "_seed3407")]
    assert [n for n in names if not is_name(n)] == []


def test_dry_run_overrides_and_only():
    p = run_in_process("run.py", "003", "--dry_run", "--only", "median_only", "--", "--num_epochs", "7", check=True)
    (line,) = p.stdout.strip().splitlines()
    opts = _parse_line(line)
    assert opts["pn_beta"] == "0" and opts["pn_buffer"] == "0" and line.endswith("--num_epochs 7")


@pytest.mark.parametrize("argv,bad,valid", [(["009"], "009", "001"), (["001", "--only", "nope"], "nope", "sym_power")])
def test_unknown_ids_are_one_line_errors(argv, bad, valid):
    p = run_in_process("run.py", *argv, "--dry_run")
    one_line_error(p, bad, valid)  # names what was wrong and what would be right
    assert len(p.stderr.strip().splitlines()) == 1


@pytest.fixture
def tiny_folder(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        imageio.imwrite(folder / f"{i:02d}.png", smooth_image(12, 12, seed=i))
    return folder


def test_sweep_survives_a_killed_task_and_summarises(tmp_path, tiny_folder):
    """The scale_1.0 task's main.py is SIGKILLed after its first checkpoint (a hook inside it: no race
    with a poll); the sweep goes on with sym_power and reports both."""
    log = tmp_path / "log"
    env = {**sitecustomize_env(tmp_path / "hook", KILL_AFTER_SNAPSHOT), "KILL_TAG": "scale_1.0"}
    p = run_in_process("run.py", "001", "--only", "scale_1.0,sym_power", "--gpus", "", "--", "--input_path",
                       tiny_folder, "--save_dir", log, "--num_epochs", "1500", "--log_epoch", "500", *TINY, env=env)
    assert p.returncode != 0
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("scale_1.0") and "killed (signal 9)" in lines[0]
    assert lines[1].startswith("sym_power") and " ok " in lines[1]
    folder = Path(lines[1].split()[-1])
    res = json.loads((folder / "results.json").read_text())
    p = run_in_process("summarize.py", log / "001_trans", check=True)
    rows = {line.split("|")[1].strip(): line for line in p.stdout.splitlines() if line.startswith("| ")}
    assert "incomplete" in rows["scale_1.0"] or "failed" in rows["scale_1.0"]
    cells = [c.strip() for c in rows["sym_power"].split("|")[1:-1]]
    assert cells[4] == f"{res['mean']['500']['psnr']:.2f}" and cells[-1] == "ok"
    assert cells[1] == f"{res['attributes']['std']:.2f}"


def test_summariser_prefers_newest_complete_run_and_adds_paper(tmp_path):
    exp = tmp_path / "001_trans"
    for i, (psnr, complete) in enumerate([(30.0, True), (31.0, True), (0.0, False)]):
        run = table1_run(exp / f"sym_power_2026-01-0{i + 1}_abcd", "sym_power",  # in Table 1's setting
                         {"5000": {"psnr": psnr, "ssim_ref": 0.99, "ssim": 0.9}} if complete else {}, complete=complete)
        os.utime(run / "results.json", (1000 + i, 1000 + i))
    p = run_in_process("summarize.py", exp, "--paper", check=True)
    row = next(line for line in p.stdout.splitlines() if line.startswith("| sym_power"))
    assert "31.00 [36.75, -5.75]" in row and "newest complete of 3 runs" in row
    one_line_error(run_in_process("summarize.py", tmp_path / "missing"), tmp_path / "missing")


def test_demo_without_data_fits_the_astronaut(tmp_path):
    if (ROOT / "data" / "div2k" / "test_data" / "00.png").exists():
        pytest.skip("data/div2k/test_data/00.png is present: the astronaut fallback is not exercised")
    p = run_py("run.py", "--gpus", "", "--save_dir", tmp_path, "--", "--num_epochs", "20", "--log_epoch", "10",
               *TINY, check=True)
    assert "astronaut" in p.stderr and "CPU profile" in p.stderr
    assert "tensorboard --logdir" in p.stdout and "PSNR" in p.stdout
    runs = list((tmp_path / "000_demo").glob("sym_power_*/results.json"))
    assert len(runs) == 1
    assert (runs[0].parent / "final_pred" / "astronaut_128px.png").is_file()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_verifies_checksums_against_a_local_server(tmp_path):
    src = dataset("div2k/test_data")
    served = tmp_path / "served"
    shutil.copytree(src, served / "div2k" / "test_data")
    (served / "div2k" / "test_data" / "03.png").write_bytes(b"corrupted on the server")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        dest = tmp_path / "data"
        p = run_in_process("data/download.py", "div2k_test", "--base_url", url, "--dest", dest)
        assert p.returncode == 1 and "03.png" in p.stderr and "checksum" in p.stderr
        files = sorted(x.name for x in (dest / "div2k" / "test_data").iterdir())
        assert len(files) == 15 and "03.png" not in files and not any(f.endswith(".part") for f in files)
        # a wrong file under the final name (a cut-short copy by hand) is fetched again and verified
        shutil.copy(src / "03.png", served / "div2k" / "test_data" / "03.png")
        (dest / "div2k" / "test_data" / "03.png").write_bytes((src / "03.png").read_bytes()[:1000])
        p = run_in_process("data/download.py", "div2k_test", "--base_url", url, "--dest", dest, check=True)
        assert "03.png: downloaded" in p.stderr and "00.png: present" in p.stderr and "16 of 16" in p.stderr
        assert (dest / "div2k" / "test_data" / "03.png").read_bytes() == (src / "03.png").read_bytes()
    finally:
        server.shutdown()


def test_authors_runs_offline_fail_in_one_line(tmp_path):
    p = run_in_process("data/download.py", "authors_runs", "--dest", tmp_path / "authors",
                       env={"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"})  # nothing listens
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "drive.google.com" in p.stderr and str(tmp_path / "authors") in p.stderr


def test_one_config_line_adds_an_experiment(monkeypatch):
    import config
    import manager

    monkeypatch.setitem(config.EXPERIMENTS, "999", config.Experiment("my_idea", "data/div2k/test_data", "image",
                                                                     "rows", ("scale_1.0", "sym_power")))
    opts = manager.task_options("999", "sym_power")
    assert opts["transform"] == "sym_power" and opts["up_folder_name"] == "999_my_idea"
