"""Run folders as one record each, for the summariser: this project's runs (results.json), the published
code's (res_table.md) and decoded checkpoints (results.json, measured after the epoch's update)."""
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
    """One run folder as a record ("results" None without any, "problem" why they cannot be read), or None
    for a single --eval_ckpt decode; InputError for an args.json that cannot be read."""
    args = read_args(folder)
    if args.get("eval_ckpt"):
        return None
    res_path, table_path = os.path.join(folder, "results.json"), os.path.join(folder, "res_table.md")
    published = not os.path.lexists(res_path) and os.path.lexists(table_path)  # no results.json: the reference's
    path, source = (table_path, "published") if published else (res_path, "ours")
    results, mtime, problem = None, os.path.getmtime(os.path.join(folder, "args.json")), None
    try:
        if os.path.lexists(path) and not within(folder, path):
            raise InputError(f"{path}: a link to a file outside the run folder; not this run's numbers")
        if published:
            mtime = os.path.getmtime(path)
            results = read_res_table(path)
            if results and str(args.get("num_epochs")) in results["mean"]:  # the last epoch's block, without `time`
                results["complete"] = True
        elif os.path.lexists(path):
            results = read_results(path)
            mtime = os.path.getmtime(path)
            source = "decoded" if results.get("measured") == "after_update" else "ours"
    except InputError as e:
        results, problem = None, str(e)
    seed = args.get("seed")
    return {"experiment": os.path.basename(os.path.dirname(folder)), "set": seed_free_tag(str(args.get("tag", "?")), seed),
            "seed": seed, "folder": folder, "source": source, "args": args, "results": results, "problem": problem,
            "mtime": mtime}


def load_runs(log_dir, skipped=None):
    """Every run under log_dir (a run, experiment or log folder); one whose args.json fails goes to `skipped`."""
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
