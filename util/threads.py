"""Threads on a shared machine (docs/performance.md, "Beside other work"): the usable cores (affinity, cgroup
quota); OpenMP's passive wait (a waiting thread sleeps, not spinning on its team's time slices) once the load
keeps half of them busy. OpenMP reads OMP_WAIT_POLICY once, when torch loads it: entry points call apply()
first. The environment's OMP_NUM_THREADS and OMP_WAIT_POLICY win. Torch-free."""
import math
import os
import sys
import time

chosen = ""  # apply()'s choice and why: a line for the run's log
QUOTA = ("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def read(path):
    with open(path) as f:
        return f.read().strip()


def usable_cores():
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:  # cgroup v2 "quota period", else v1's two files; "max" / -1: no quota
        quota, period = read(QUOTA[0]).split() if os.path.exists(QUOTA[0]) else (read(QUOTA[1]), read(QUOTA[2]))
        return min(n, max(1, math.ceil(int(quota) / int(period)))) if quota not in ("max", "-1") else n
    except (OSError, ValueError):
        return n


def given_threads(environ):
    n = environ.get("OMP_NUM_THREADS", "").strip()
    return int(n) if n.isdigit() and int(n) > 0 else None


def load_now(samples=5, every_s=0.01):
    """Processes runnable besides this one, the median of a few looks at /proc/loadavg's "running/total"
    (the 1-minute load average lags a minute behind work that starts or stops); the average where there
    is no such file."""
    try:
        counts = []
        for _ in range(samples):
            counts.append(int(read("/proc/loadavg").split()[3].split("/")[0]) - 1)
            time.sleep(every_s)
        return float(sorted(counts)[samples // 2])
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0]


def choose(cores, load, threads=None, wait=None):
    """(threads, wait policy or None: OpenMP's default); `threads` and `wait` given win."""
    threads = threads or cores
    return threads, wait or ("PASSIVE" if threads > 1 and load >= cores / 2 else None)


def apply(environ=os.environ):
    """Choose and set in `environ` (this process's OpenMP and its children's); with torch already loaded
    (a test calling main()), its thread count too. Returns the line for the log."""
    global chosen
    cores, load = usable_cores(), load_now()
    threads, wait = choose(cores, load, given_threads(environ), environ.get("OMP_WAIT_POLICY") or None)
    environ["OMP_NUM_THREADS"] = str(threads)
    if wait:
        environ["OMP_WAIT_POLICY"] = wait
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    chosen = (f"threads: {threads}, OpenMP wait policy {(wait or 'default').lower()} ({cores} usable core(s), "
              f"load {load:.1f} at start)")
    return chosen
