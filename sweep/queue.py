"""run.py's queue: main.py tasks started on free slots, their record in sweep.json, and the signals that stop
them. A task writes into <log_dir>/tasks/<name>.log (a file, not a pipe: it never dies on a broken pipe).
"""
import ctypes
import heapq
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque

from util.errors import EXIT_INTERRUPTED
from util.interrupt import SignalHandlers
from util.io import AUDIO_EXTS, IMAGE_EXTS, write_json
from util.readers import RELATIVE, read_json, read_progress, read_sweep, rebased
from util.threads import given_threads, usable_cores as cores

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_S = 0.2  # how often the queue looks at its tasks (and a task's log is followed)
PROGRESS_EVERY_S = 30  # a progress line at least this often while tasks run


def _prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()  # looked up here, not in the forked child


def _die_with_parent():
    """In the child, before exec: SIGTERM when run.py dies (Linux; elsewhere a task outlives it)."""
    _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class StopRequest(SignalHandlers):
    """The first stop signal is recorded (the queue acts on it); a second Ctrl-C asks for an immediate stop."""

    def __init__(self):
        self.signum, self.at_once = None, False

    def handlers(self):
        return {sig: self._on_signal for sig in STOP_SIGNALS}

    def _on_signal(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        elif signum == signal.SIGINT:
            self.at_once = True


class SweepRecord:
    """<log_dir>/sweep.json: every task ever queued into the folder, by name. A save rewrites this
    process's tasks and keeps the others as read: a sweep's record only ever gains tasks."""

    def __init__(self, log_dir, meta):
        self.log_dir, self.path = log_dir, os.path.join(log_dir, "sweep.json")
        saved = read_sweep(log_dir)  # checked first: a bad record is refused, never overwritten
        raw = read_json(self.path)["tasks"] if saved is not None else []
        self.meta = {**meta, **(saved.meta if saved is not None else {})}  # the first sweep's start stays
        if self.meta.get("paths") != RELATIVE:  # an older record's paths, relative to where run.py ran
            raw = [{**e, **self.stored(s.folder, s.argv)} for e, s in zip(raw, saved.tasks if saved else [])]
        self.meta["paths"] = RELATIVE
        self.entries = {t["name"]: t for t in raw}
        self.saved = {t.name: t for t in saved.tasks} if saved is not None else {}
        self.tasks = []

    def add(self, tasks):
        """Record the tasks; a new one whose name is taken (a second sweep of the sets) becomes <name>+2, +3 ..."""
        for t in tasks:
            if t.name in self.entries and not t.resumed:
                k = 2
                while f"{t.name}+{k}" in self.entries:
                    k += 1
                t.name = f"{t.name}+{k}"
            self.entries[t.name] = {**t.record(), **self.stored(t.folder, t.argv)}
            self.tasks.append(t)

    def stored(self, folder, argv):
        """A task's folder and argv as sweep.json keeps them: relative to the sweep's folder."""
        def rel(path):
            return os.path.relpath(os.path.realpath(path), os.path.realpath(self.log_dir))

        return {"folder": folder and rel(folder), "argv": rebased(argv, rel)}

    def save(self):
        for t in self.tasks:
            self.entries[t.name] = {**t.record(), **self.stored(t.folder, t.argv)}
        write_json(self.path, {**self.meta, "tasks": list(self.entries.values())})

    def finished(self):
        """(parameter set, run folder) of every task recorded ok, this process's and the others'."""
        mine = {t.name: t for t in self.tasks}
        out = []
        for name, e in self.entries.items():
            t = mine.get(name)
            if t is not None and t.rc == 0:
                out.append((t.param_set, t.folder, name))
            elif t is None and e.get("status") == "ok":
                out.append((e.get("set", name), self.saved[name].folder if name in self.saved else None, name))
        return out


def task_progress(task):
    """(epochs done, epochs in all) of a running task over all its samples; None before its first epoch."""
    try:
        args = read_json(os.path.join(task.folder, "args.json"))
        total = args["num_epochs"]
        if task.samples is None:
            task.samples = _sample_count(args)
        finished = 0
        if os.path.isfile(os.path.join(task.folder, "results.json")):
            samples = read_json(os.path.join(task.folder, "results.json"))["samples"]
            finished = sum(any(int(e) >= total for e in epochs) for epochs in samples.values())
        progress = read_progress(task.folder)
        current = progress["epoch"] if progress is not None and progress["epoch"] < total else 0
        if not finished and not current:
            return None
        return finished * total + current, max(task.samples, finished + (current > 0)) * total
    except Exception:  # an estimate only: any file not (yet) there or odd means "unknown"
        return None


def _sample_count(args):
    path, exts = args["input_path"], {"image": IMAGE_EXTS, "audio": AUDIO_EXTS}.get(args["signal_type"])
    if exts is None or not os.path.isdir(path):
        return 1
    return max(1, sum(os.path.splitext(n)[1].lower() in exts for n in os.listdir(path)))


def running_progress(task, now, progress=task_progress):
    """(epoch, total, elapsed) of a running task from the first epoch the queue saw, so that its start-up
    (torch, data, compiling: minutes on a busy machine) does not count as training."""
    seen = progress(task)
    if seen is None:
        return None
    if task.first_seen is None:
        task.first_seen = (seen[0], now)
    e0, t0 = task.first_seen
    if seen[0] > e0:
        return seen[0] - e0, seen[1] - e0, now - t0
    return seen[0], seen[1], now - task.started


def sweep_eta(done, running, queued, slots):
    """Seconds until the sweep ends: each queued task takes a finished task's time (before any: a running one's
    whole) on the slot that frees first. None while nothing tells."""
    seen = [r for r in running if r is not None]
    per = sum(done) / len(done) if done else sum(s / e * t for e, t, s in seen) / len(seen) if seen else None
    if per is None:
        return None
    free = [per if r is None else r[2] / r[0] * (r[1] - r[0]) for r in running]  # when each busy slot frees
    free += [0.0] * max(0, slots - len(free))
    heapq.heapify(free)
    for _ in range(queued):  # each queued task on the slot that frees first
        heapq.heappush(free, heapq.heappop(free) + per)
    return max(free)


def eta_s(tasks, slots, now, progress=task_progress):
    running = [running_progress(t, now, progress) for t in tasks if t.status == "running"]
    return sweep_eta([t.wall for t in tasks if t.rc == 0 and t.wall], running,
                     sum(t.status == "pending" for t in tasks), slots)


class Queue:
    """Each free slot (a device, None: the CPU) takes the next task; `echo` shows its output on standard error."""

    def __init__(self, tasks, slots, record, echo):
        self.tasks, self.slots, self.record, self.echo = tasks, slots, record, echo
        self.log_dir = record.log_dir
        self.threads = given_threads(os.environ) or max(1, cores() // max(1, len(slots)))  # OMP_NUM_THREADS wins
        self.last_line_at = 0.0

    def start(self, task, device):
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        if device is not None:
            env["CUDA_VISIBLE_DEVICES"] = device
        os.makedirs(os.path.join(self.log_dir, "tasks"), exist_ok=True)
        task.log_file = os.path.join(self.log_dir, "tasks", f"{task.name}.log")
        task.device, task.started, task.status = device, time.time(), "running"
        with open(task.log_file, "a") as log:  # the child keeps its own copy of the descriptor
            offset = log.tell()
            task.proc = subprocess.Popen(task.command(), cwd=task.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent if _PRCTL is not None else None)
        task.pump = threading.Thread(target=self._follow, args=(task, offset), daemon=True)
        task.pump.start()
        where = f"GPU {device}" if device is not None else "CPU"
        self.say(f"[run] {task.name}: started on {where}; log {task.log_file}")

    def _follow(self, task, offset):
        with open(task.log_file, encoding="utf-8", errors="replace", newline="") as f:
            f.seek(offset)
            while True:
                ended = task.proc.poll() is not None  # read once more after the end: nothing is left behind
                text = f.read()
                if text:
                    lines = [s.strip() for s in text.replace("\r", "\n").split("\n") if s.strip()]
                    task.last_line = lines[-1] if lines else task.last_line
                    if self.echo:
                        self.echo = self.say(text, end="")
                elif ended:
                    return
                else:
                    time.sleep(POLL_S)

    def say(self, text, end="\n"):
        try:
            print(text, end=end, file=sys.stderr, flush=True)
            return True
        except (OSError, ValueError):  # a closed terminal: the tasks' logs still have everything
            return False

    def progress_line(self, force=False):
        now = time.time()
        if not force and now - self.last_line_at < PROGRESS_EVERY_S:
            return
        self.last_line_at = now
        done = [t for t in self.tasks if t.rc is not None]
        running = sum(t.status == "running" for t in self.tasks)
        failed = sum(t.rc != 0 for t in done)
        eta = eta_s(self.tasks, len(self.slots), now) if len(done) < len(self.tasks) else None
        self.say(f"[run] tasks done {len(done)}/{len(self.tasks)}, running {running}, failed {failed}"
                 + (f", eta {eta / 60:.1f} min" if eta is not None else ""))

    def run(self):
        pending, free, running = deque(self.tasks), list(self.slots), []
        self.record.save()
        with StopRequest() as stop:
            while (pending or running) and stop.signum is None:
                while pending and free:
                    task = pending.popleft()
                    self.start(task, free.pop(0))
                    running.append(task)
                    self.record.save()
                time.sleep(POLL_S)
                for task in [t for t in running if t.proc.poll() is not None]:
                    self._finish(task)
                    running.remove(task)
                    free.append(task.device)
                    self.record.save()
                    self.progress_line(force=True)
                self.progress_line()
            if stop.signum is not None:
                self._stop(stop, running, pending)
                raise KeyboardInterrupt

    def _stop(self, stop, running, pending):
        name = signal.Signals(stop.signum).name
        self.say(f"[run] {name}: stopping the running tasks at the end of their epoch, with a checkpoint "
                 f"(Ctrl-C again: at once); continue with: python run.py --resume {self.log_dir}")
        for task in pending:
            task.status = "not started"
        for task in running:
            task.proc.send_signal(signal.SIGTERM)  # Popen ignores a task that has just ended
        sent_at_once = False
        while any(t.proc.poll() is None for t in running):
            if stop.at_once and not sent_at_once:
                sent_at_once = True
                for task in running:
                    task.proc.send_signal(signal.SIGINT)  # after SIGTERM, main.py takes a SIGINT as "stop now"
            time.sleep(POLL_S)
        for task in running:
            self._finish(task)
            if task.rc in (-signal.SIGTERM, -signal.SIGINT):  # our stop came before main.py's handler (its start-up)
                task.rc = EXIT_INTERRUPTED
                task.status = task.describe()
        self.record.save()

    def _finish(self, task):
        task.proc.wait()
        task.pump.join()  # the task's last lines are read before it is reported
        task.rc, task.wall = task.proc.returncode, round(time.time() - task.started, 1)
        task.status = task.describe()
