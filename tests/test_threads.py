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
