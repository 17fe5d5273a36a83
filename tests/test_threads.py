"""util/threads.py: the threads and OpenMP wait policy an entry point chooses (docs/performance.md)."""
import os
import sys

from util import threads


def test_all_usable_cores_and_a_passive_wait_once_other_work_keeps_them_busy():
    assert threads.choose(4, load=0.3) == (4, None)  # idle: OpenMP's default wait
    assert threads.choose(4, load=6.0) == (4, "PASSIVE")
    assert threads.choose(1, load=6.0) == (1, None)  # one thread waits for no other
    assert threads.choose(4, load=6.0, threads=2, wait="ACTIVE") == (2, "ACTIVE")  # the environment's win


def test_apply_keeps_what_the_environment_gives_and_says_what_it_chose(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # this process's torch keeps its threads
    env = {"OMP_NUM_THREADS": "3", "OMP_WAIT_POLICY": "ACTIVE"}
    line = threads.apply(env)
    assert env == {"OMP_NUM_THREADS": "3", "OMP_WAIT_POLICY": "ACTIVE"} and "threads: 3" in line
    env = {"OMP_NUM_THREADS": "0"}  # not a thread count: derived
    threads.apply(env)
    assert int(env["OMP_NUM_THREADS"]) == threads.usable_cores()


def test_usable_cores_are_at_most_the_affinitys():
    assert 1 <= threads.usable_cores() <= len(os.sched_getaffinity(0))


def test_the_load_counts_work_that_started_or_stopped_this_instant(monkeypatch):
    # the 1-minute average lags: four busy processes that began a second ago, or ended a second ago
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.2, 0.1, 0.0))
    monkeypatch.setattr(threads, "read", lambda path: "0.20 0.10 0.00 5/345 1234")
    assert threads.load_now(every_s=0) == 4
    assert threads.choose(2, threads.load_now(every_s=0)) == (2, "PASSIVE")
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (4.5, 4.0, 3.0))
    monkeypatch.setattr(threads, "read", lambda path: "4.50 4.00 3.00 1/345 1234")  # only this process runs
    assert threads.load_now(every_s=0) == 0
    assert threads.choose(2, threads.load_now(every_s=0)) == (2, None)
