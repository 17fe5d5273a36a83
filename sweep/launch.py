"""Sweeps on a cluster: each parameter set is one checkpointable submitit job (SLURM, or this machine), its
state in <log_dir>/jobs/<task>.json; at a time limit main.py stops with a checkpoint and the job is requeued
as `main.py --resume <its run folder>`.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import submitit

from util.errors import OptionError
from util.io import write_json
from util.readers import read_job_state, read_jobs, read_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_REQUEUES = 100  # timeouts a job may be requeued after; each resumes where the last one stopped


def signal_delay_s(minutes):
    """Seconds from the timeout signal to the kill: submitit's 90 s, or a fifth of a short limit (at least 5 s)."""
    return int(min(90, max(5, minutes * 60 / 5)))


class RunTask(submitit.helpers.Checkpointable):
    """The job's body: main.py as a subprocess; on a timeout `checkpoint` stops it (it snapshots) and requeues."""

    def __init__(self, name, argv, folder, state_path, requeues=0):
        self.name, self.argv, self.folder, self.state_path, self.requeues = name, argv, folder, state_path, requeues
        self.proc = None

    def __call__(self):
        write_json(self.state_path, {"state": "running", "host": os.uname().nodename, "started": time.time(),
                                     "folder": self.folder, "requeues": self.requeues})
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), *self.argv], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        last = ""
        for line in self.proc.stdout:
            sys.stdout.write(line)
            if line.strip():
                last = line.strip()
        rc = self.proc.wait()
        state = {"state": "done" if rc == 0 else "failed", "rc": rc, "folder": self.folder, "last_line": last,
                 "ended": time.time(), "requeues": self.requeues}
        write_json(self.state_path, state)
        return state

    def checkpoint(self, *args, **kwargs):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR2)  # main.py: stop after this epoch, with a checkpoint
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        started = os.path.isfile(os.path.join(self.folder, "args.json"))
        argv = ["--resume", self.folder] if started else self.argv  # not started yet: start it again
        write_json(self.state_path, {"state": "requeued", "folder": self.folder, "requeues": self.requeues + 1})
        return submitit.helpers.DelayedSubmission(RunTask(self.name, argv, self.folder, self.state_path,
                                                          self.requeues + 1))

    def __getstate__(self):  # the subprocess stays behind; a requeued task starts its own
        return {**self.__dict__, "proc": None}


def _executor(args, folder):
    if args.launcher == "slurm":
        if not args.partition:
            raise OptionError("--launcher slurm needs --partition")
        if shutil.which("sbatch") is None:
            raise OptionError("--launcher slurm: no SLURM on this machine (sbatch not found); use --launcher local "
                              "or the default queue launcher")
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=MAX_REQUEUES)
        ex.update_parameters(slurm_partition=args.partition, gpus_per_node=args.gpus_per_task, tasks_per_node=1,
                             timeout_min=args.time, name="symtrans", slurm_signal_delay_s=signal_delay_s(args.time))
    else:
        ex = submitit.LocalExecutor(folder=folder, max_num_timeout=MAX_REQUEUES)
        ex.update_parameters(timeout_min=args.time, signal_delay_s=signal_delay_s(args.time))
    return ex


def submit(tasks, log_dir, meta, args):
    ex = _executor(args, os.path.join(log_dir, "submitit"))
    os.makedirs(os.path.join(log_dir, "jobs"), exist_ok=True)
    earlier = _earlier_jobs(log_dir)
    jobs = {}
    for t in tasks:
        base, k = t.name, 2
        while t.name in earlier:  # a second submit of the same sets: renamed as the queue's record does
            t.name, k = f"{base}+{k}", k + 1
        state_path = os.path.join(log_dir, "jobs", f"{t.name}.json")
        job = ex.submit(RunTask(t.name, t.argv, t.folder, os.path.abspath(state_path)))
        jobs[t.name] = {"job_id": str(job.job_id), "argv": t.argv, "folder": t.folder, "launcher": args.launcher,
                        "state_file": state_path, "job": job}
        print(f"[run] {t.name}: submitted as job {job.job_id}", file=sys.stderr, flush=True)
    _save_jobs(log_dir, meta, jobs, earlier)
    if args.launcher == "slurm":
        print(f"submitted {len(jobs)} job(s); follow them with: python run.py --status {log_dir}")
        return 0
    for name, j in jobs.items():  # local: wait, then report like the queue
        try:
            j["result"] = j["job"].result()
        except Exception as e:
            j["result"] = {"state": "failed", "rc": None, "folder": j["folder"], "last_line": str(e).splitlines()[-1:]}
    _save_jobs(log_dir, meta, jobs, earlier)
    return print_status(log_dir)


def _earlier_jobs(log_dir):
    """The jobs an earlier submit into log_dir recorded, checked: a sweep's record only ever gains jobs."""
    if not os.path.lexists(os.path.join(log_dir, "jobs.json")):
        return {}
    read_jobs(log_dir)  # every entry checked (names, folders inside log_dir) before any is kept
    return read_json(os.path.join(log_dir, "jobs.json"))["jobs"]


def _save_jobs(log_dir, meta, jobs, earlier):
    write_json(os.path.join(log_dir, "jobs.json"), {**meta, "jobs": {**earlier, **{
        n: {k: v for k, v in j.items() if k not in ("job", "result")} for n, j in jobs.items()}}})


def print_status(log_dir):
    """One line per task: state, job id, run folder. Exit 1 if any failed, else 0."""
    jobs = read_jobs(log_dir)
    states = {name: read_job_state(job) for name, job in jobs.items()}  # every file checked before a line is printed
    failed = 0
    width = max((len(n) for n in jobs), default=0)
    for name, job in jobs.items():
        st = states[name]
        failed += st["state"] == "failed"
        extra = f"  | {st.get('last_line')}" if st["state"] == "failed" and st.get("last_line") else ""
        requeues = f"  requeued {st['requeues']}x" if st.get("requeues") else ""
        print(f"{name:<{width}}  {st['state']:<8}  job {job.job_id:<10}  {st.get('folder') or '-'}{requeues}{extra}")
    return 1 if failed else 0
