"""Progress from a fit's first seconds (trainer/loop.py's Progress): a line at the start, one when
the first step (compilation) is done, then a line every PROGRESS_EVERY_S seconds without a terminal,
with an ETA from the steps after the first. A fake clock: no test waits for time to pass."""
import trainer.loop as bt
from trainer.loop import PROGRESS_EVERY_S, Progress, format_s


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_plain_lines_start_at_once_and_come_at_a_steady_cadence(monkeypatch):
    clock, lines = Clock(), []
    monkeypatch.setattr(bt.time, "monotonic", clock)
    bar = Progress("00", 1, 1000, quiet=True, log=lines.append)
    assert len(lines) == 1 and "training epochs 1 to 1000" in lines[0] and f"every {PROGRESS_EVERY_S} s" in lines[0]
    clock.t += 30  # the first step compiles
    bar.update()
    assert len(lines) == 2 and "epoch 1 done in 30.0 s" in lines[1]
    for _ in range(99):  # then 0.5 s per epoch: a line every PROGRESS_EVERY_S seconds, no more
        clock.t += 0.5
        bar.update()
    periodic = lines[2:]
    assert len(periodic) == int(99 * 0.5 // PROGRESS_EVERY_S)
    assert periodic[0].startswith(f"[00] epoch {1 + int(PROGRESS_EVERY_S / 0.5)}/1000 (")
    epoch = int(periodic[-1].split()[2].split("/")[0])
    eta = (1000 - epoch) * 0.5  # the epochs left at 0.5 s: the compiling first step does not count
    assert periodic[-1].endswith(f"eta {format_s(eta)}"), periodic[-1]
    bar.log_epoch(100, {"psnr": 30.0})
    assert lines[-1].startswith("[00] epoch 100/1000: psnr 30") and "eta" in lines[-1]


def test_a_resumed_fit_starts_where_it_stopped(monkeypatch):
    clock, lines = Clock(), []
    monkeypatch.setattr(bt.time, "monotonic", clock)
    bar = Progress("00", 501, 1000, quiet=True, log=lines.append)
    assert "training epochs 501 to 1000" in lines[0]
    assert "eta n/a" in bar.where()  # no rate before a step after the first
    for _ in range(3):
        clock.t += 2
        bar.update()
    assert bar.epoch == 503 and bar.eta() == 2 * (1000 - 503)


def test_format_s():
    assert [format_s(s) for s in (4.4, 65, 3600 * 2 + 7 * 60 + 3)] == ["4 s", "1 min 05 s", "2 h 07 min"]


def test_the_progress_file_says_epoch_total_psnr_and_rate(monkeypatch, tmp_path):
    """progress.json is what the sweep reads (sweep/status.py, sweep/queue.py): the fit writes it as data."""
    from util.readers import read_progress

    clock = Clock()
    monkeypatch.setattr(bt.time, "monotonic", clock)
    bar = Progress("00", 1, 100, quiet=True, log=lambda line: None, path=str(tmp_path / "progress.json"))
    assert read_progress(str(tmp_path))["epoch"] == 0
    for _ in range(50):
        clock.t += 1
        bar.update()
    bar.log_epoch(50, {"psnr": 31.5})
    p = read_progress(str(tmp_path))
    assert (p["sample"], p["epoch"], p["of"], p["psnr"], p["psnr_epoch"]) == ("00", 50, 100, 31.5, 50)
    assert p["s_per_epoch"] == 1.0 and p["eta_s"] == 50.0
