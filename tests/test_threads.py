"""util/threads.py: the threads and OpenMP wait policy an entry point chooses (docs/performance.md)."""
import os
import subprocess
import sys
from unittest import mock

from util import threads


def test_all_usable_cores_and_a_passive_wait_once_other_work_keeps_them_busy():
    assert threads.choose(4, load=0.3) == (4, None)  # idle: OpenMP's default wait
    assert threads.choose(2, load=1.0) == (2, "PASSIVE")  # one busy process beside a 2-thread team on 2 cores
    assert threads.choose(4, load=6.0) == (4, "PASSIVE")
    assert threads.choose(8, load=3.0, threads=2) == (2, None)  # two threads beside 3 busy cores of 8: room
    assert threads.choose(8, load=6.6, threads=2) == (2, "PASSIVE")
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


def test_the_load_is_the_busy_share_of_the_usable_cpus_over_a_short_look_less_this_processs(monkeypatch):
    # /proc/stat before and after: cpu0 busy 8 of 10 ticks, cpu1 busy 2 of 10; cpu2 (not usable) is ignored, and
    # the 1-minute average (a minute behind) is not used
    stats = iter(["cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 100 0 0 50 0 0 0 0 0 0\ncpu1 100 0 0 50 0 0 0 0 0 0\n"
                  "cpu2 0 0 0 0 0 0 0 0 0 0\nintr 5",
                  "cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 106 0 2 52 0 0 0 0 0 0\ncpu1 101 0 0 55 3 0 1 0 0 0\n"
                  "cpu2 0 0 0 100 0 0 0 0 0 0\nintr 9"])
    monkeypatch.setattr(threads, "read", lambda path: next(stats))
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    # this process's own threads ran 0.02 s of the 0.1 s look: a fifth of a core that is not other work
    clock, own = iter([5.0, 5.1]), iter([1.0, 1.02])
    monkeypatch.setattr(threads.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(threads.time, "process_time", lambda: next(own))
    assert abs(threads.load_now(window_s=0) - 0.8) < 1e-9  # 10 busy ticks of 20: one core's worth, less 0.2


def test_other_work_that_keeps_every_usable_cpu_busy_is_seen_as_load():
    # a busy loop confined to each usable CPU: none of them can be idle while the loops run, however busy the
    # machine is otherwise
    cpus = sorted(os.sched_getaffinity(0))[:8]
    code = "import os, sys\nos.sched_setaffinity(0, {%d})\nprint('go', flush=True)\nwhile True: pass"
    loops = [subprocess.Popen([sys.executable, "-c", code % c], stdout=subprocess.PIPE, text=True) for c in cpus]
    try:
        for p in loops:
            assert p.stdout.readline() == "go\n"
        with mock.patch.object(threads.os, "sched_getaffinity", lambda pid: set(cpus)):
            assert threads.load_now(window_s=0.3) >= 0.75 * len(cpus)
    finally:
        for p in loops:
            p.kill()
            p.wait()
