"""Sweeps on a cluster: each parameter set is one submitit job (SLURM, or this machine for tests).

    python run.py 001 --launcher slurm --partition P [--gpus_per_task 1 --time 120]
    python run.py 001 --launcher local          # the same code path on this machine
    python run.py --status log/001_trans        # pending / running / done / failed, with job ids

A job runs `main.py` with the task's options and records its state in
<log_dir>/jobs/<task>.json; jobs.json maps each task to its job id and run folder.
"""
import json
import os
import subprocess
import sys
import time

from util.errors import OptionError
from util.io import write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_task(name, argv, folder, state_path):
    """The job's body: main.py as a subprocess (creating `folder`), its state written before and after."""
    write_json(state_path, {"state": "running", "host": os.uname().nodename, "started": time.time()})
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), *argv], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    last = ""
    for line in proc.stdout:
        sys.stdout.write(line)
        if line.strip():
            last = line.strip()
    rc = proc.wait()
    state = {"state": "done" if rc == 0 else "failed", "rc": rc, "folder": folder, "last_line": last,
             "ended": time.time()}
    write_json(state_path, state)
    return state


def _executor(args, folder):
    import submitit

    if args.launcher == "slurm":
        if not args.partition:
            raise OptionError("--launcher slurm needs --partition")
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        ex.update_parameters(slurm_partition=args.partition, gpus_per_node=args.gpus_per_task, tasks_per_node=1,
                             timeout_min=args.time, name="symtrans")
    else:
        ex = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=args.time)
    return ex


def submit(tasks, log_dir, meta, args):
    try:
        ex = _executor(args, os.path.join(log_dir, "submitit"))
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    os.makedirs(os.path.join(log_dir, "jobs"), exist_ok=True)
    jobs = {}
    for t in tasks:
        state_path = os.path.join(log_dir, "jobs", f"{t.name}.json")
        job = ex.submit(run_task, t.name, t.argv, t.folder, os.path.abspath(state_path))
        jobs[t.name] = {"job_id": str(job.job_id), "argv": t.argv, "folder": t.folder, "launcher": args.launcher,
                        "state_file": state_path, "job": job}
        print(f"[run] {t.name}: submitted as job {job.job_id}", file=sys.stderr, flush=True)
    _save_jobs(log_dir, meta, jobs)
    if args.launcher == "slurm":
        print(f"submitted {len(jobs)} job(s); follow them with: python run.py --status {log_dir}")
        return 0
    for name, j in jobs.items():  # local: wait, then report like the queue
        try:
            j["result"] = j["job"].result()
        except Exception as e:
            j["result"] = {"state": "failed", "rc": None, "folder": j["folder"], "last_line": str(e).splitlines()[-1:]}
    _save_jobs(log_dir, meta, jobs)
    return print_status(log_dir)


def _save_jobs(log_dir, meta, jobs):
    write_json(os.path.join(log_dir, "jobs.json"), {**meta, "jobs": {
        n: {k: v for k, v in j.items() if k not in ("job", "result")} for n, j in jobs.items()}})


def _state(log_dir, job):
    path = job["state_file"] if os.path.isabs(job["state_file"]) else os.path.join(ROOT, job["state_file"])
    if not os.path.isfile(path):
        path = os.path.join(log_dir, "jobs", os.path.basename(job["state_file"]))
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"state": "pending"}


def print_status(log_dir):
    """One line per task: state, job id, run folder. Exit 1 if any failed, else 0."""
    path = os.path.join(log_dir, "jobs.json")
    if not os.path.isfile(path):
        print(f"error: {log_dir}: no jobs.json (was this sweep submitted with --launcher slurm or local?)",
              file=sys.stderr)
        return 2
    with open(path) as f:
        jobs = json.load(f)["jobs"]
    failed = 0
    width = max((len(n) for n in jobs), default=0)
    for name, job in jobs.items():
        st = _state(log_dir, job)
        failed += st["state"] == "failed"
        extra = f"  | {st.get('last_line')}" if st["state"] == "failed" and st.get("last_line") else ""
        print(f"{name:<{width}}  {st['state']:<8}  job {job['job_id']:<10}  {st.get('folder') or '-'}{extra}")
    return 1 if failed else 0
