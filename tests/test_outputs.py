"""Outputs written into what the user named (util/io.py's write_output): a regular file atomically, a
symlink through to its target, a pipe or a character device written into, never replaced by a rename;
a folder or a socket refused in one line."""
import json
import os
import shlex
import socket
import subprocess
import sys
import threading

import pytest

import summarize
from tests.conftest import ROOT, one_line_error, run_in_process
from tests.test_paired import run, values
from util.io import InputError, write_output


def _comparison_log(root):
    for seed in (1, 2):
        run(root / "001_trans", "scale_1.0", seed, values(seed, 0))
        run(root / "001_trans", "sym_power", seed, values(seed, 0.5))
    return root


def _read_fifo(path, into):
    """A reader of a FIFO in a thread (the writer's open blocks until one is there): its bytes go to `into`."""
    def read():
        with open(path, "rb") as f:
            into.append(f.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


def test_json_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path, capsys):
    log = _comparison_log(tmp_path / "log")
    (tmp_path / "real.json").write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "real.json")
    assert summarize.main([str(log), "--baseline", "scale_1.0", "--json", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(tmp_path / "real.json")
    assert json.loads((tmp_path / "real.json").read_text())["baseline"] == "scale_1.0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "log", "real.json"]  # no temporary left


def test_json_into_a_fifo_reaches_its_reader_and_the_fifo_stays(tmp_path, capsys):
    log = _comparison_log(tmp_path / "log")
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    got = []
    reader = _read_fifo(fifo, got)
    assert summarize.main([str(log), "--baseline", "scale_1.0", "--json", str(fifo)]) == 0
    reader.join(timeout=60)
    assert json.loads(got[0])["rows"]["sym_power"]["mean_delta"] == pytest.approx(0.5)
    assert fifo.is_fifo()


def test_json_into_dev_null_leaves_the_device_a_device(tmp_path, capsys):
    log = _comparison_log(tmp_path / "log")
    assert summarize.main([str(log), "--baseline", "scale_1.0", "--json", os.devnull]) == 0
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)


def test_json_to_dev_stdout_follows_the_table_into_a_pipe_an_append_or_a_file(tmp_path):
    # a shell's stdout: a pipe (realpath names no file for it), a file opened with >> (its earlier lines stay)
    # or with > (the same file, not replaced by a rename); and a pipe named /dev/fd/N that is not stdout
    log = _comparison_log(tmp_path / "log")
    cmd = f"{shlex.quote(sys.executable)} summarize.py {shlex.quote(str(log))} --baseline scale_1.0 --json"
    out = tmp_path / "out.txt"

    def check(text):
        table, _, rest = text.partition("\n{")
        assert "| sym_power |" in table and json.loads("{" + rest)["rows"]["sym_power"]["mean_delta"] == \
            pytest.approx(0.5)

    piped = subprocess.run(f"{cmd} /dev/stdout | cat", shell=True, cwd=ROOT, capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    check(piped.stdout)
    out.write_text("PRE\n")
    inode = out.stat().st_ino
    p = subprocess.run(f"{cmd} /dev/stdout >> {shlex.quote(str(out))}", shell=True, cwd=ROOT, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    assert out.read_text().startswith("PRE\n## 001_trans") and out.stat().st_ino == inode
    check(out.read_text()[4:])
    p = subprocess.run(f"{cmd} /dev/stdout > {shlex.quote(str(out))}", shell=True, cwd=ROOT, capture_output=True,
                       text=True)
    assert p.returncode == 0 and out.stat().st_ino == inode, p.stderr
    check(out.read_text())
    read, write = os.pipe()
    with open(read, "rb") as reader:
        p = subprocess.run(cmd.split()[:1] + ["summarize.py", str(log), "--baseline", "scale_1.0", "--json",
                                              f"/dev/fd/{write}"], cwd=ROOT, pass_fds=(write,), capture_output=True)
        os.close(write)
        assert p.returncode == 0, p.stderr
        assert json.loads(reader.read())["baseline"] == "scale_1.0"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["log", "out.txt"]  # no temporary left


def test_a_plot_through_a_symlink_and_into_a_fifo(tmp_path, tiny_png):
    target = tmp_path / "real.png"
    link = tmp_path / "link.png"
    link.symlink_to(target)  # dangling: written through, the target is created
    run_in_process("-m", "components.transform", tiny_png, "--plot", link, check=True)
    assert link.is_symlink() and target.read_bytes().startswith(b"\x89PNG")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    got = []
    reader = _read_fifo(fifo, got)
    run_in_process("summarize.py", _comparison_log(tmp_path / "log"), "--plot", fifo, check=True)
    reader.join(timeout=60)
    assert got[0].startswith(b"\x89PNG") and fifo.is_fifo()


def test_a_socket_or_folder_is_refused_in_one_line(tmp_path):
    log = _comparison_log(tmp_path / "log")
    sock_path = tmp_path / "s.png"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        p = run_in_process("summarize.py", log, "--plot", sock_path)
    one_line_error(p, sock_path, "socket")
    with pytest.raises(InputError, match="a folder"):
        write_output(str(tmp_path), lambda f: f.write("x"))


def test_a_failing_writer_leaves_a_fifo_unopened(tmp_path):
    fifo = tmp_path / "p"
    os.mkfifo(fifo)

    def fail(f):
        raise ValueError("not serialisable")

    with pytest.raises(ValueError):  # no reader: an open for writing would block this test forever
        write_output(str(fifo), fail)


def test_download_writes_through_a_symlink_and_refuses_a_fifo(tmp_path):
    import functools
    import hashlib
    import http.server

    from tests.test_download import _Quiet

    body = b"pinned bytes"
    (tmp_path / "served" / "a").mkdir(parents=True)
    (tmp_path / "served" / "a" / "x.bin").write_bytes(body)
    (tmp_path / "served" / "a" / "y.bin").write_bytes(body)
    dest = tmp_path / "data" / "a"
    dest.mkdir(parents=True)
    (dest / "x.bin").symlink_to(tmp_path / "elsewhere.bin")
    os.mkfifo(dest / "y.bin")
    entry = {"sha256": hashlib.sha256(body).hexdigest()}
    manifest = {"sets": {"s": ["a/"]}, "files": {"a/x.bin": entry, "a/y.bin": entry}, "raw_url_pattern": "-",
                "commit": "-", "source": "-"}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path / "served")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from data.download import fetch_data
    try:
        rc = fetch_data(["s"], f"http://127.0.0.1:{server.server_address[1]}", str(tmp_path / "data"), manifest)
    finally:
        server.shutdown()
    assert rc == 1
    assert (dest / "x.bin").is_symlink() and (tmp_path / "elsewhere.bin").read_bytes() == body
    assert (dest / "y.bin").is_fifo()
    assert sorted(p.name for p in dest.iterdir()) == ["x.bin", "y.bin"]
