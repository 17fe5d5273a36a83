"""Run folders, whoever wrote them, as one record each: this project's runs (results.json), the
published code's (res_table.md) and decoded checkpoints (results.json, "measured": "after_update":
the model after its epoch's update, where training logs measure before it). The summariser reads these.
"""
import os

from util.errors import InputError
from util.readers import read_args, read_res_table, read_results, walk, within

SOURCES = {  # source -> (label, when the metrics were measured)
    "ours": ("this project", "before the epoch's update"),
    "published": ("published code's log", "before the epoch's update"),
    "decoded": ("decoded checkpoint", "after the epoch's update"),
}
def seed_free_tag(tag, seed):
    """The parameter set a run belongs to: run.py --seeds tags each run `<set>_seed<seed>`."""
    suffix = f"_seed{seed}"
    return tag[:-len(suffix)] if seed is not None and tag.endswith(suffix) and len(tag) > len(suffix) else tag


def read_run(folder):
    """One run folder as {"experiment", "set", "seed", "folder", "source", "args", "results" (None
    when it has none), "problem" (why its results cannot be read, or None), "mtime"}; None for a
    folder that is not a run (a single --eval_ckpt decode). InputError for an args.json that cannot
    be read. Every file is read through util/readers.py; one that links outside the folder is refused."""
    args = read_args(folder)
    if args.get("eval_ckpt"):
        return None
    args_path = os.path.join(folder, "args.json")
    results, source, mtime, problem = None, "ours", os.path.getmtime(args_path), None
    res_path, table_path = os.path.join(folder, "results.json"), os.path.join(folder, "res_table.md")
    try:
        if os.path.lexists(res_path):
            if not within(folder, res_path):
                raise InputError(f"{res_path}: a link to a file outside the run folder; not this run's numbers")
            results = read_results(res_path)
            mtime = os.path.getmtime(res_path)
            source = "decoded" if results.get("measured") == "after_update" else "ours"
        elif os.path.lexists(table_path):  # no results.json: written by the published code
            source = "published"
            if not within(folder, table_path):
                raise InputError(f"{table_path}: a link to a file outside the run folder; not this run's numbers")
            mtime = os.path.getmtime(table_path)
            results = read_res_table(table_path)
            if results and str(args.get("num_epochs")) in results["mean"]:  # the last epoch's block, without `time`
                results["complete"] = True
    except InputError as e:
        results, problem = None, str(e)
    seed = args.get("seed")
    return {"experiment": os.path.basename(os.path.dirname(folder)), "set": seed_free_tag(str(args.get("tag", "?")), seed),
            "seed": seed, "folder": folder, "source": source, "args": args, "results": results, "problem": problem,
            "mtime": mtime}


def load_runs(log_dir, skipped=None):
    """Every run under log_dir (a run folder, an experiment folder or a whole log tree). A folder whose
    args.json cannot be read is left out, its reason appended to `skipped`."""
    runs = []
    for dirpath, dirs, files in walk(log_dir):
        if "args.json" not in files:
            continue
        dirs[:] = []  # a run folder's subfolders hold no runs
        try:
            run = read_run(dirpath)
        except InputError as e:
            if skipped is not None:
                skipped.append(str(e))
            continue
        if run is not None:
            runs.append(run)
    return runs
