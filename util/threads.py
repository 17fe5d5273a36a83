"""Threads for a process on a machine shared with other work (docs/performance.md, "Beside other work").

OpenMP (torch's CPU threads) reads OMP_WAIT_POLICY once, when torch loads it, so an entry point
calls apply() before its first torch import. Threads: the cores this process may use (affinity and
cgroup quota). Wait policy: passive (a thread that waits for work sleeps instead of spinning) once
other work keeps the cores busy, where a spinning thread burns the time slices the other threads of
its own team wait for; idle, OpenMP's default. OMP_NUM_THREADS and OMP_WAIT_POLICY given in the
environment win. Torch-free: run.py and the tests use it too.
"""
import math
import os
import sys

chosen = ""  # what apply() chose and why: a line for the run's log


def usable_cores():
    """The cores this process may run on (affinity), fewer where a cgroup's CPU quota says so."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    for path in ("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"):  # cgroup v2, v1
        try:
            with open(path) as f:
                quota, *period = f.read().split()
            if not period:
                with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
                    period = f.read().split()
            if quota not in ("max", "-1"):
                n = min(n, max(1, math.ceil(int(quota) / int(period[0]))))
            break
        except (OSError, ValueError, IndexError):
            continue
    return n


def given_threads(environ):
    """OMP_NUM_THREADS as a positive integer, or None when it is unset or not one."""
    n = environ.get("OMP_NUM_THREADS", "").strip()
    return int(n) if n.isdigit() and int(n) > 0 else None


def choose(cores, load, threads=None, wait=None):
    """(threads, wait policy or None for OpenMP's default) for a process that may use `cores`, on a
    machine whose load average is `load`; `threads` and `wait` as given in the environment win."""
    threads = threads or cores
    if wait is None and threads > 1 and load >= cores / 2:
        wait = "PASSIVE"
    return threads, wait


def apply(environ=os.environ):
    """Choose, and set in `environ` (for this process's OpenMP and the processes it starts); with torch
    already loaded (a test calling main()), its thread count too. Returns the line for the log."""
    global chosen
    cores, load = usable_cores(), os.getloadavg()[0]
    threads, wait = choose(cores, load, given_threads(environ), environ.get("OMP_WAIT_POLICY") or None)
    environ["OMP_NUM_THREADS"] = str(threads)
    if wait:
        environ["OMP_WAIT_POLICY"] = wait
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    chosen = (f"threads: {threads}, OpenMP wait policy {(wait or 'default').lower()} ({cores} usable core(s), "
              f"load average {load:.1f} at start)")
    return chosen
