"""data/download.py's failures, one line per kind (offline, HTTP code, checksum) with the reason, then
one line saying what to do; against a local server and a port where nothing listens."""
import functools
import http.server
import shutil
import socket
import threading

from tests.conftest import dataset, run_in_process


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _errors(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_each_failure_kind_is_one_line_and_says_what_to_do(tmp_path):
    src = dataset("div2k/test_data")
    served = tmp_path / "served" / "div2k" / "test_data"
    served.mkdir(parents=True)
    shutil.copy(src / "00.png", served / "00.png")  # fetched and verified
    (served / "01.png").write_bytes(b"not the pinned file")  # checksum; the other 14 are absent: HTTP 404
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path / "served")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        p = run_in_process("data/download.py", "div2k_test", "--base_url", url, "--dest", tmp_path / "data")
    finally:
        server.shutdown()
    assert p.returncode == 1 and "Traceback" not in p.stderr
    errors = _errors(p.stderr)
    assert len(errors) == 2, p.stderr
    checksum, = [e for e in errors if e.startswith("error: checksum: 1 file(s)")]
    assert "01.png" in checksum and "SHA-256" in checksum
    missing, = [e for e in errors if e.startswith("error: HTTP 404: 14 file(s)")]
    assert url in missing
    todo = p.stderr.strip().splitlines()[-1]
    assert todo.startswith("to do:") and "--base_url" in todo and str(tmp_path / "data" / "div2k" / "test_data") in todo
    assert sorted(f.name for f in (tmp_path / "data" / "div2k" / "test_data").iterdir()) == ["00.png"]


def test_offline_is_one_line_not_one_per_file(tmp_path):
    with socket.socket() as s:  # a port where nothing listens: connection refused, as offline
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = run_in_process("data/download.py", "div2k_test", "--base_url", f"http://127.0.0.1:{port}",
                       "--dest", tmp_path / "data")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 3, p.stderr  # the count, the one error, what to do
    assert lines[0].startswith("0 of 16 files present")
    assert lines[1].startswith("error: offline: 16 file(s)") and "cannot reach" in lines[1]
    assert lines[2].startswith("to do:") and "copy the files by hand" in lines[2] and "--base_url" in lines[2]
    assert not (tmp_path / "data").exists()  # no empty folder left to pass for the data set


def test_dry_run_warns_of_a_missing_input_and_names_its_download(tmp_path):
    p = run_in_process("run.py", "001", "--dry_run", "--", "--input_path", "data/div2k/test_data/absent", check=True)
    warnings = [line for line in p.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "data/div2k/test_data/absent" in warnings[0], p.stderr
    assert "python data/download.py div2k_test" in warnings[0]
    assert len(p.stdout.strip().splitlines()) == 11  # the commands are still listed
    present = tmp_path / "00.png"
    present.write_bytes(b"")
    p = run_in_process("run.py", "001", "--dry_run", "--", "--input_path", present, check=True)
    assert "warning" not in p.stderr
