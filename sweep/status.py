"""`run.py --status LOG_DIR` for a queue sweep (sweep.json) or a folder of run folders: a line per task. A running
task shows how old its progress.json is: a queue killed outright leaves "running" in sweep.json. No torch here.
"""
import os
import time

from util.errors import InputError
from util.recorder import run_complete
from util.readers import PROGRESS_FILE, read_progress, read_results, read_sweep, walk

def fit_progress(folder):
    """(sample, epoch, total, "<psnr> @<epoch>" or None, seconds since written) of progress.json; None before it."""
    try:
        p = read_progress(folder)
        age = time.time() - os.path.getmtime(os.path.join(folder, PROGRESS_FILE))
    except (InputError, OSError):
        return None
    if p is None:
        return None
    psnr = None if p["psnr"] is None else f"{p['psnr']:.2f} @{p['psnr_epoch']}"
    return p["sample"], p["epoch"], p["of"], psnr, age


def final_psnr(folder):
    """The mean PSNR at a finished run's last epoch (None if it has none)."""
    try:
        mean = read_results(os.path.join(folder, "results.json"))["mean"]
    except InputError:
        return None
    return mean[max(mean, key=int)].get("psnr") if mean else None


def run_line(name, state, folder):
    """The columns of one task: name, state, sample, epoch, psnr, folder."""
    there = folder is not None and os.path.isdir(folder)
    progress = fit_progress(folder) if there else None
    sample, epoch, psnr, note = "-", "-", None, ""
    if progress is not None:
        sample, e, total, psnr, age = progress
        epoch = f"{e}/{total}"
        if state == "running":
            note = f"  (progress last written {age:.0f} s ago)"
    if state == "ok" and there and final_psnr(folder) is not None:  # the mean over the run's samples
        psnr = f"{final_psnr(folder):.2f}"
    shown = os.path.relpath(folder) if there else "-"
    shown = folder if shown.startswith("..") else shown
    return [name, state, sample, epoch, psnr or "-", shown + note]


def folder_state(folder):
    """A run folder's state from its results.json alone (no sweep.json to say more)."""
    try:
        res = read_results(os.path.join(folder, "results.json"))
    except InputError:
        return "unfinished"
    return "failed" if res.get("failed") else "ok" if res["complete"] else "unfinished"


def sweep_rows(log_dir):
    """(title, rows, failed) of a queue sweep or of a folder of run folders; InputError if it is neither."""
    sweep = read_sweep(log_dir)
    if sweep is not None:
        rows = [run_line(t.name, t.status, t.folder) for t in sweep.tasks]
        states = [t.status for t in sweep.tasks]
        title = f"sweep {log_dir}" + (f" (experiment {sweep.experiment})" if sweep.experiment else "")
    else:
        rows, states = [], []
        for dirpath, dirs, files in walk(log_dir):
            if "args.json" in files:
                dirs[:] = []  # a run folder's subfolders hold no runs
                states.append("ok" if run_complete(dirpath) else folder_state(dirpath))
                name = os.path.relpath(dirpath, log_dir)
                rows.append(run_line(os.path.basename(os.path.abspath(dirpath)) if name == "." else name, states[-1],
                                     dirpath))
        if not rows:
            raise InputError(f"{log_dir}: not a sweep folder (no sweep.json or jobs.json) and it holds no run "
                             f"folders (args.json)")
        title = f"run folders under {log_dir} (no sweep.json)"
    counts = {s: states.count(s) for s in dict.fromkeys(states)}
    failed = sum(1 for s in states if s not in ("ok", "running", "pending", "not started", "unfinished")
                 and not s.startswith("interrupted"))
    return f"{title}: {len(rows)} task(s): " + ", ".join(f"{n} {s}" for s, n in counts.items()), rows, failed


def print_status(log_dir):
    """One line per task; exit 1 if any task failed."""
    title, rows, failed = sweep_rows(log_dir)
    header = ["task", "state", "sample", "epoch", "psnr", "folder"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    print(title)
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[5])
    return 1 if failed else 0
