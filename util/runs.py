"""Run folders, whoever wrote them, as one record each: what the summariser and the curves read.

Three kinds of folder hold an args.json:
- this project's runs (main.py): results.json holds every logged epoch's metrics;
- the published code's runs (the authors' released log/001_trans, or a run of their code): no
  results.json, but res_table.md, a PrettyTable block per logged epoch (`epoch_N | psnr | mse |
  ssim | lpips`, one row per image and a `mean` row) and a `time` block written at the end;
- decoded checkpoints (main.py --eval_ckpt on a folder): results.json with "measured": "after_update".

Training logs (both codes) measure an epoch before that epoch's optimizer update, on the prediction
the step made; a decoded checkpoint holds the model after it, so its PSNR at epoch E is slightly
higher. Every record says which it is.
"""
import json
import math
import os

SOURCES = {  # source -> (label, when the metrics were measured)
    "ours": ("this project", "before the epoch's update"),
    "published": ("published code's log", "before the epoch's update"),
    "decoded": ("decoded checkpoint", "after the epoch's update"),
}
PUBLISHED_COLUMNS = {"ssim": "ssim_ref"}  # the published code's SSIM is the variant Table 1 reports


def _float(cell):
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def read_res_table(path):
    """The published code's res_table.md as results: {"samples", "mean", "complete"}. PrettyTable
    blocks: a border, the header, a border, the rows, a border. `lpips -1` means not computed."""
    samples, mean, finished = {}, {}, False
    state, header = "start", None
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line.strip() for line in f]
    for line in lines:
        if line.startswith("+"):
            state = {"start": "header", "after_header": "body", "body": "start"}.get(state, "header")
            continue
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if state == "header":
            header, state = cells, "after_header"
            finished |= header[0] == "time"
            continue
        if state != "body" or not header or not header[0].startswith("epoch_"):
            continue
        epoch = header[0][len("epoch_"):]
        row = {}
        for key, cell in zip(header[1:], cells[1:]):
            v = _float(cell)
            if key == "lpips" and v is not None and v < 0:
                v = None
            row[PUBLISHED_COLUMNS.get(key, key)] = v
        if cells[0] == "mean":
            mean[epoch] = row
        else:
            samples.setdefault(cells[0], {})[epoch] = row
    for epoch in {e for recs in samples.values() for e in recs} - set(mean):  # a block without its mean row
        rows = [recs[epoch] for recs in samples.values() if epoch in recs]
        mean[epoch] = {k: _mean([r.get(k) for r in rows]) for k in rows[0]}
    if not samples and not mean:
        return None
    return {"samples": samples, "mean": dict(sorted(mean.items(), key=lambda kv: int(kv[0]))),
            "attributes": None, "complete": finished}


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def seed_free_tag(tag, seed):
    """The parameter set a run belongs to: run.py --seeds tags each run `<set>_seed<seed>`."""
    suffix = f"_seed{seed}"
    return tag[:-len(suffix)] if seed is not None and tag.endswith(suffix) and len(tag) > len(suffix) else tag


def read_run(folder):
    """One run folder as {"experiment", "set", "seed", "folder", "source", "args", "results" (None
    when it has none), "mtime"}; None for a folder that is not a run (a single --eval_ckpt decode)."""
    args_path = os.path.join(folder, "args.json")
    try:
        with open(args_path) as f:
            args = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(args, dict) or args.get("eval_ckpt"):
        return None
    results, source, mtime = None, "ours", os.path.getmtime(args_path)
    res_path, table_path = os.path.join(folder, "results.json"), os.path.join(folder, "res_table.md")
    if os.path.isfile(res_path):
        try:
            with open(res_path) as f:
                results = json.load(f)
            mtime = os.path.getmtime(res_path)
            source = "decoded" if results.get("measured") == "after_update" else "ours"
        except (OSError, ValueError, AttributeError):
            results = None
    elif os.path.isfile(table_path):  # no results.json: written by the published code
        source, mtime = "published", os.path.getmtime(table_path)
        try:
            results = read_res_table(table_path)
        except OSError:
            results = None
        if results and str(args.get("num_epochs")) in results["mean"]:  # the last epoch's block, without `time`
            results["complete"] = True
    seed = args.get("seed")
    return {"experiment": os.path.basename(os.path.dirname(folder)), "set": seed_free_tag(str(args.get("tag", "?")), seed),
            "seed": seed, "folder": folder, "source": source, "args": args, "results": results, "mtime": mtime}


def load_runs(log_dir):
    """Every run under log_dir (a run folder, an experiment folder or a whole log tree)."""
    runs = []
    for dirpath, dirs, files in os.walk(log_dir):
        dirs.sort()
        if "args.json" not in files:
            continue
        dirs[:] = []  # a run folder's subfolders hold no runs
        run = read_run(dirpath)
        if run is not None:
            runs.append(run)
    return runs
