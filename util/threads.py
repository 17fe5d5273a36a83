"""Threads on a shared machine (docs/performance.md, "Beside other work"): the usable cores (affinity, cgroup
quota); OpenMP's passive wait (a waiting thread sleeps, not spinning on its team's time slices) once other work
busy on those cores leaves the team less than a core each. OpenMP reads OMP_WAIT_POLICY once, when torch loads
it: entry points call apply() first. The environment's OMP_NUM_THREADS and OMP_WAIT_POLICY win. Torch-free."""
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


def cpu_times(cpus):
    """{cpu: (all ticks, idle and iowait ticks)} of /proc/stat's lines for those CPUs."""
    times = {}
    for line in read("/proc/stat").splitlines():
        name, *ticks = line.split()
        if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks = [int(t) for t in ticks[:8]]  # user nice system idle iowait irq softirq steal (guest is in user)
            times[int(name[3:])] = (sum(ticks), ticks[3] + ticks[4])
    return times


def load_now(window_s=0.1):
    """Cores that other work keeps busy: the busy share of the usable CPUs' time over a short look (/proc/stat),
    less this process's own (numpy's BLAS threads spin for a while after they start). Not the run queue: a
    kernel worker that runs for an instant made an idle machine count as loaded; nor the 1-minute load average,
    a minute behind work that starts or stops. The average where there is no /proc/stat."""
    try:
        cpus = os.sched_getaffinity(0)
        before, own, t0 = cpu_times(cpus), time.process_time(), time.perf_counter()
        time.sleep(window_s)
        after, own, wall = cpu_times(cpus), time.process_time() - own, time.perf_counter() - t0
        total = sum(after[c][0] - before[c][0] for c in after)
        idle = sum(after[c][1] - before[c][1] for c in after)
        return max(0.0, len(after) * (total - idle) / total - own / wall) if total > 0 else 0.0
    except (OSError, ValueError, IndexError, KeyError, AttributeError):
        return os.getloadavg()[0]


def choose(cores, load, threads=None, wait=None):
    """(threads, wait policy or None: OpenMP's default); `threads` and `wait` given win. Passive once the
    threads and the other work's cores exceed the usable cores by half a core or more: a team of more than one
    thread then shares cores with other work, and a thread that spins waiting for its team takes the time slice
    the team needs. Idle, OpenMP's default: its spin is a little faster (bench_step, docs/performance.md)."""
    threads = threads or cores
    return threads, wait or ("PASSIVE" if threads > 1 and threads + load >= cores + 0.5 else None)


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
