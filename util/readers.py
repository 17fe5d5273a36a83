"""Every file the project reads back, checked at the door for what the code reads: a record, or InputError
naming the file and the problem. A path taken from one resolves only inside its folder (`inside`). No torch here.
"""
import json
import math
import os
import re
from collections import namedtuple

from util.errors import InputError

MAX_JSON_BYTES = 256 << 20  # a run file far beyond this is not one the project wrote
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=,@-]{0,199}")  # a task or sample name used as a file name
EPOCH = re.compile(r"(0|[1-9][0-9]{0,11})")  # a logged epoch as results.json and res_table.md spell it
NOMINALS = ((0, 255, 256), (0, 65535, 65536), (-1, 1, 2))  # (lo, hi, levels): util.io.Nominal's ranges
# (C, *grid) per signal type as components/signals.py's readers give it (tests/test_readers.py compares). A
# checkpoint's transform is checked by its own class when decoded, so a new transform needs no entry here.
SIGNAL_DIMS = {"image": 3, "audio": 2, "video": 4}


# ---- paths and plain values ------------------------------------------------------------------------

def within(folder, path):
    """Whether `path` (absolute, or relative to `folder`) resolves, symlinks followed, inside `folder`."""
    if "\0" in str(path) or "\0" in str(folder):
        return False
    root = os.path.realpath(folder)
    full = os.path.realpath(os.path.join(folder, path))
    return full == root or full.startswith(root.rstrip(os.sep) + os.sep)


def inside(folder, path, what):
    """`path` resolved inside `folder`, or InputError naming `what` (e.g. "latest.json's file")."""
    if not isinstance(path, str) or not path or not within(folder, path) \
            or os.path.realpath(os.path.join(folder, path)) == os.path.realpath(folder):
        raise InputError(f"{what} {path!r} does not lie inside {folder}; refused")
    return os.path.realpath(os.path.join(folder, path))


def walk(top):
    """os.walk(top), top-down, sorted, links to folders not entered, without recursion (Python 3.11's
    ends in RecursionError ~1000 folders deep); `dirs` may be pruned in place."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        dirs, files = [], []
        for e in entries:
            try:
                (dirs if e.is_dir() else files).append(e.name)
            except OSError:
                files.append(e.name)
        dirs, files = sorted(dirs), sorted(files)
        yield folder, dirs, files
        stack.extend(os.path.join(folder, d) for d in reversed(dirs)
                     if not os.path.islink(os.path.join(folder, d)))


def md_cell(text):
    """Text as one markdown table cell: data, never markup (no '|', line break or heading gets through)."""
    return " ".join(str(text).replace("\\", "\\\\").replace("|", "\\|").splitlines()) or " "


def is_name(v):
    """A name that is safe as one file name: no separator, no leading dot, no control character."""
    return isinstance(v, str) and NAME.fullmatch(v) is not None


def is_int(v, lo=None, hi=None):
    return isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo) and (hi is None or v <= hi)


def is_number(v):
    """A finite int or float (an int beyond float range is not one)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return abs(v) < 1e300 if isinstance(v, int) else math.isfinite(v)


def _show(v, n=60):
    """A value from a file, shown in an error: one line, cut short."""
    return " ".join(str(v).split())[:n]


def _type(v):
    return type(v).__name__ if v is not None else "null"


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path, what=None):
    """A JSON file's value; InputError for a missing, unreadable, oversized or invalid file (NaN too)."""
    what = what or path
    if not os.path.isfile(path):
        raise InputError(f"{what}: no such file")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)
    except OSError as e:
        raise InputError(f"{what}: cannot be read ({e.strerror or e})")
    if len(raw) > MAX_JSON_BYTES:
        raise InputError(f"{what}: larger than {MAX_JSON_BYTES >> 20} MiB; not a file this project wrote")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise InputError(f"{what}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{what}: not valid JSON ({e.msg}, line {e.lineno} column {e.colno})") from None
    except (ValueError, RecursionError) as e:
        raise InputError(f"{what}: not valid JSON ({str(e).splitlines()[0][:100] if str(e) else 'nested too deep'})") \
            from None


def _object(value, path, what="an object"):
    if not isinstance(value, dict):
        raise InputError(f"{path}: must hold {what} (got {_type(value)})")
    return value


def _own_file(folder, name):
    """folder/name, refused if it is a symlink (or lies) outside `folder`."""
    path = os.path.join(folder, name)
    if os.path.lexists(path) and not within(folder, path):
        raise InputError(f"{path}: a link to a file outside {folder}; refused")
    return path


# ---- args.json --------------------------------------------------------------------------------------

# Options every reader relies on, whoever wrote the file: name -> (check, what it must be).
COMMON_ARGS = {
    "tag": (lambda v: isinstance(v, str) and "\0" not in v, "a string"),
    "seed": (lambda v: v is None or is_int(v, 0, 2 ** 32 - 1), "an integer in [0, 2**32 - 1]"),
    "num_epochs": (lambda v: v is None or is_int(v, 1), "a positive integer"),
    "eval_ckpt": (lambda v: v is None or isinstance(v, str), "a path or null"),
    "signal_type": (lambda v: isinstance(v, str) and v in SIGNAL_DIMS, f"one of {', '.join(SIGNAL_DIMS)}"),
}

def read_args(folder):
    """A run folder's args.json, its COMMON_ARGS checked (opt.read_options checks every option)."""
    path = _own_file(folder, "args.json")
    if not os.path.isfile(path):
        raise InputError(f"{folder}: not a run folder (no args.json)")
    args = _object(read_json(path), path, "an object of options")
    for name, (ok, rule) in COMMON_ARGS.items():
        if name in args and not ok(args[name]):
            raise InputError(f"{path}: option {name} must be {rule} (got {_type(args[name])} {str(args[name])[:40]!r})")
    return args


# ---- ckpt/latest.json -------------------------------------------------------------------------------

Latest = namedtuple("Latest", "path sample epoch")  # path: the checkpoint file, resolved inside <run>/ckpt


def read_latest(run_dir):
    """The run's ckpt/latest.json, or None when the run has no checkpoint yet."""
    ckpt_dir = os.path.join(run_dir, "ckpt")
    pointer = _own_file(ckpt_dir, "latest.json")
    if not os.path.lexists(pointer):
        return None
    d = _object(read_json(pointer), pointer)
    fname, sample, epoch = d.get("file"), d.get("sample"), d.get("epoch")
    if not isinstance(fname, str) or os.path.basename(fname) != fname or fname in ("", ".", ".."):
        raise InputError(f"{pointer}: 'file' must be a checkpoint file name in {ckpt_dir} (got {str(fname)[:80]!r})")
    path = inside(ckpt_dir, fname, f"{pointer}: its file")
    if not os.path.isfile(path):
        raise InputError(f"{pointer}: names {fname}, which does not exist")
    if not isinstance(sample, str) or not is_int(epoch, 0):
        raise InputError(f"{pointer}: 'sample' must be a name and 'epoch' an integer >= 0")
    return Latest(path, sample, epoch)


# ---- progress.json (trainer/loop.py's Progress) ----------------------------------------------

PROGRESS_FILE = "progress.json"  # a fit's progress in its run folder, as data for other processes


def read_progress(folder):
    """A fit's progress.json (trainer/loop.py's Progress), or None before its first one."""
    path = _own_file(folder, PROGRESS_FILE)
    if not os.path.lexists(path):
        return None
    p = _object(read_json(path), path)
    if not (isinstance(p.get("sample"), str) and is_int(p.get("epoch"), 0) and is_int(p.get("of"), 1)
            and all(p.get(k) is None or is_number(p[k]) for k in ("psnr", "s_per_epoch", "eta_s"))):
        raise InputError(f"{path}: not a progress record (sample, epoch, of, psnr)")
    return p


# ---- results.json -----------------------------------------------------------------------------------

METRIC_LIMIT = 1e6  # beyond any metric a run records (a PSNR of float64 data stays under 4000 dB): a value past it
# is a damaged file, refused where it is read, not summed into an OverflowError


def is_metric(v):
    return is_number(v) and abs(v) <= METRIC_LIMIT


def _metric(v):
    return v is None or is_metric(v) or (isinstance(v, list) and all(x is None or is_metric(x) for x in v))


def _epoch_blocks(blocks, where, values):
    """{epoch: {metric: value}} with epochs spelled as non-negative integers."""
    _object(blocks, where)
    for e, metrics in blocks.items():
        if not isinstance(e, str) or not EPOCH.fullmatch(e):
            raise InputError(f"{where}: epoch {str(e)[:40]!r} is not a non-negative integer")
        if not isinstance(metrics, dict):
            raise InputError(f"{where}: epoch {e} must map metrics to values (got {_type(metrics)})")
        for k, v in metrics.items():
            if not isinstance(k, str) or not values(v):
                raise InputError(f"{where}: epoch {e} {str(k)[:40]!r} must be a number of at most {METRIC_LIMIT:g} in "
                                 f"size, or null (got {_show(v, 40)})")
    return blocks


def _attributes(v, where):
    if v is None:
        return None
    _object(v, where)
    for k in ("std", "skew", "range"):
        if not (v.get(k) is None or is_number(v.get(k))):
            raise InputError(f"{where}: {k} must be a finite number or null (got {_type(v.get(k))})")
    return v


def read_results(path):
    """A results.json, "samples", "mean", "attributes" and "complete" always present, what is read checked."""
    res = _object(read_json(path), path)
    for k in ("samples", "sample_attributes", "sample_shapes"):
        _object(res.get(k, {}), f"{path}: {k}")
    for name, blocks in res.get("samples", {}).items():
        _epoch_blocks(blocks, f"{path}: sample {name[:40]!r}", _metric)
    _epoch_blocks(res.get("mean", {}), f"{path}: mean", lambda v: v is None or is_metric(v))
    for name, attrs in [("attributes", res.get("attributes")), *res.get("sample_attributes", {}).items()]:
        _attributes(attrs, f"{path}: {name[:40]}")
    if not all(isinstance(res.get(k, False), bool) for k in ("complete", "failed")) \
            or not isinstance(res.get("error", ""), str):
        raise InputError(f"{path}: 'complete' and 'failed' must be true or false, 'error' a string")
    return {**res, "samples": res.get("samples", {}), "mean": res.get("mean", {}),
            "attributes": res.get("attributes"), "complete": res.get("complete", False)}


# ---- res_table.md (the published code's log) --------------------------------------------------------

PUBLISHED_COLUMNS = {"ssim": "ssim_ref"}  # the published code's SSIM is the variant Table 1 reports


def _float(cell):
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) and abs(v) <= METRIC_LIMIT else None


def read_res_table(path):
    """The published code's res_table.md (PrettyTable blocks: border, header, border, rows, border) as
    results, or None without an epoch block. `lpips -1` means not computed."""
    samples, mean, finished, seen = {}, {}, False, set()
    state, epoch = "start", None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line.strip() for line in f]
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror or e})")
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
            epoch = header[0][len("epoch_"):] if header[0].startswith("epoch_") else None
            if epoch is not None and not EPOCH.fullmatch(epoch):
                raise InputError(f"{path}: block {header[0][:40]!r}: the epoch is not a non-negative integer")
            if epoch is not None and epoch in seen:
                raise InputError(f"{path}: epoch {epoch} is logged twice")
            seen.add(epoch)
            continue
        if state != "body" or epoch is None:
            continue
        row = {PUBLISHED_COLUMNS.get(k, k): None if k == "lpips" and (v or 0) < 0 else v  # lpips -1: not computed
               for k, v in zip(header[1:], map(_float, cells[1:]))}
        if cells[0] == "mean":
            mean[epoch] = row
        else:
            samples.setdefault(cells[0], {})[epoch] = row
    for epoch in {e for recs in samples.values() for e in recs} - set(mean):  # a block without its mean row
        rows = [recs[epoch] for recs in samples.values() if epoch in recs]
        known = {k: [r[k] for r in rows if r.get(k) is not None] for k in dict.fromkeys(k for r in rows for k in r)}
        mean[epoch] = {k: sum(v) / len(v) if v else None for k, v in known.items()}
    if not samples and not mean:
        return None
    return {"samples": samples, "mean": dict(sorted(mean.items(), key=lambda kv: int(kv[0]))),
            "attributes": None, "complete": finished}


# ---- sweep.json and jobs.json (run.py) --------------------------------------------------------------

SweepTask = namedtuple("SweepTask", "name set argv status folder")  # folder: inside the sweep's, or None (not started)
Sweep = namedtuple("Sweep", "experiment tasks meta")  # meta: what run.py recorded besides the tasks


def option_values(argv, name):
    """Every value an argv gives option `name` (`--name V` or `--name=V`)."""
    out = []
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif a.startswith(name + "="):
            out.append(a[len(name) + 1:])
    return out


RELATIVE = "relative to the sweep folder"  # sweep.json's "paths" since run.py writes them so: a moved sweep resumes


def _task_folder(log_dir, folder, argv, where, relative):
    """A task's run folder (stored, or its argv's --run_folder) inside the sweep's folder, or refused; relative
    to the sweep's folder, or (an older record's) to where run.py ran."""
    given = option_values(argv, "--run_folder")
    for f in ([folder] if folder is not None else []) + given:
        if not isinstance(f, str) or not f or "\0" in f:
            raise InputError(f"{where}: its folder must be a path (got {_type(f)})")
        try:
            inside(log_dir, f if relative else os.path.abspath(f), f"{where}: run folder")
        except InputError as e:
            raise InputError(f"{e}" + ("" if relative else "; a sweep moved from where it ran: continue each of "
                                       "its runs with python main.py --resume RUN_FOLDER")) from None
    if folder is None and not given:
        raise InputError(f"{where}: names no run folder (--run_folder) inside {log_dir}")
    return os.path.realpath(os.path.join(log_dir, folder) if relative else folder) if folder is not None else None


def rebased(argv, path):
    """argv with its --run_folder's value v as path(v): sweep.json's (relative) to main.py's and back."""
    out = list(argv)
    for i, a in enumerate(out):
        if a == "--run_folder" and i + 1 < len(out):
            out[i + 1] = path(out[i + 1])
        elif a.startswith("--run_folder="):
            out[i] = "--run_folder=" + path(a[len("--run_folder="):])
    return out


def read_sweep(log_dir):
    """<log_dir>/sweep.json (run.py's record), or None; its tasks' paths absolute, wherever the folder moved."""
    path = _own_file(log_dir, "sweep.json")
    if not os.path.lexists(path):
        return None
    d = _object(read_json(path), path)
    tasks, names = d.get("tasks"), set()
    if not isinstance(tasks, list):
        raise InputError(f"{path}: 'tasks' must be a list (got {_type(tasks)})")
    if not (d.get("experiment") is None or isinstance(d.get("experiment"), str)):
        raise InputError(f"{path}: 'experiment' must be an experiment id")
    relative = d.get("paths") == RELATIVE
    out = []
    for i, t in enumerate(tasks):
        where = f"{path}: task {i + 1}"
        _object(t, where)
        name = t.get("name")
        if not is_name(name):
            raise InputError(f"{where}: name {str(name)[:60]!r} is not a plain file name; refused")
        if name in names:
            raise InputError(f"{where}: task {name} is listed twice")
        names.add(name)
        pset, status = t.get("set", name), t.get("status", "pending")
        if not isinstance(pset, str) or not isinstance(status, str):
            raise InputError(f"{where}: 'set' and 'status' must be strings")
        argv = t.get("argv")
        if not isinstance(argv, list) or not all(isinstance(a, str) and "\0" not in a for a in argv):
            raise InputError(f"{where}: argv must be a list of strings")
        folder = _task_folder(log_dir, t.get("folder"), argv, where, relative)
        argv = rebased(argv, lambda v: os.path.abspath(os.path.join(log_dir, v) if relative else v))
        out.append(SweepTask(name, pset, argv, status, folder))
    return Sweep(d.get("experiment"), out, {k: v for k, v in d.items() if k != "tasks"})


Job = namedtuple("Job", "name job_id folder state_file")  # state_file: <log_dir>/jobs/<name>.json, whatever it says


JOB_STATES = ("pending", "running", "done", "failed", "requeued")


def read_jobs(log_dir):
    """<log_dir>/jobs.json (run.py --launcher local / slurm) as {task: Job}."""
    path = _own_file(log_dir, "jobs.json")
    if not os.path.lexists(path):
        raise InputError(f"{log_dir}: no jobs.json (was this sweep submitted with --launcher slurm or local?)")
    jobs = _object(_object(read_json(path), path).get("jobs"), f"{path}: jobs")
    out = {}
    for name, j in jobs.items():
        where = f"{path}: job {name[:60]!r}"
        if not is_name(name):
            raise InputError(f"{where}: not a plain file name; refused")
        _object(j, where)
        if not isinstance(j.get("job_id"), (str, int)) or isinstance(j.get("job_id"), bool):
            raise InputError(f"{where}: job_id must be a string")
        folder = j.get("folder")
        if folder is not None:
            if not isinstance(folder, str) or "\0" in folder:
                raise InputError(f"{where}: its folder must be a path")
            inside(log_dir, os.path.abspath(folder), f"{where}: run folder")
        out[name] = Job(name, str(j["job_id"]), folder, os.path.join(log_dir, "jobs", f"{name}.json"))
    return out


def read_job_state(job):
    """A job's state file ({"state", ...}); pending while the job has not written one."""
    path = _own_file(os.path.dirname(job.state_file), os.path.basename(job.state_file))
    if not os.path.lexists(path):
        return {"state": "pending"}
    st = _object(read_json(path), path)
    if st.get("state") not in JOB_STATES or not (st.get("requeues") is None or is_int(st["requeues"], 0)):
        raise InputError(f"{path}: state must be one of {', '.join(JOB_STATES)} and requeues an integer >= 0")
    return {**st, "last_line": str(st.get("last_line") or ""), "folder": str(st.get("folder") or "")}


# ---- checkpoints ------------------------------------------------------------------------------------

FORMAT = "symtrans-inr/1"


def read_checkpoint(path, trust=False):
    """A checkpoint's dict, loaded with weights_only=True and checked: ours entry by entry, the reference's
    (its args a pickled argparse.Namespace, only with trust) for its model, epoch and options."""
    import argparse
    import pickle

    import torch

    if not os.path.isfile(path):
        raise InputError(f"{path}: no such checkpoint file")
    allowed = [argparse.Namespace] if trust else []
    try:
        with torch.serialization.safe_globals(allowed):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e)
        if "argparse.Namespace" in msg and not trust:
            raise InputError(f"{path}: reference-format checkpoint (its args are a pickled argparse.Namespace); "
                             f"pass --trust_checkpoint to load it with only that class allowed")
        if "GLOBAL" not in msg:  # no class named: random bytes or another format, not a refused object
            raise InputError(f"{path}: not a readable checkpoint (not a file torch.save wrote)")
        culprit = next((w.strip("`'\". ") for line in msg.splitlines() if "GLOBAL" in line for w in line.split()
                        if "." in w and not w.startswith("GLOBAL")), "")
        raise InputError(f"{path}: refused: it holds objects other than tensors and plain types"
                         + (f" ({culprit})" if culprit else ""))
    except Exception as e:  # a truncated or foreign file fails in many ways inside torch.load
        raise InputError(f"{path}: not a readable checkpoint ({type(e).__name__})")
    if not isinstance(state, dict) or "model" not in state:
        raise InputError(f"{path}: not a checkpoint of this project or the reference (no 'model' entry)")
    model = state["model"]
    if not isinstance(model, dict) or not model or \
            not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items()):
        raise InputError(f"{path}: 'model' must map parameter names to tensors")
    if not is_int(state.get("epoch"), 0):
        raise InputError(f"{path}: 'epoch' must be an integer >= 0 (got {_type(state.get('epoch'))})")
    if state.get("format") == FORMAT:
        _check_ours(path, state, torch)
    elif isinstance(state.get("args"), argparse.Namespace):
        if not all(isinstance(k, str) for k in vars(state["args"])):
            raise InputError(f"{path}: its args are not an option set")
    elif "format" in state:
        raise InputError(f"{path}: unknown checkpoint format {str(state['format'])[:40]!r} (this project writes "
                         f"{FORMAT})")
    else:
        raise InputError(f"{path}: its 'args' entry is not an option set (neither format)")
    return state


def _entry(state, key, path, kind=dict):
    v = state.get(key)
    if not isinstance(v, kind):
        raise InputError(f"{path}: '{key}' must be a {kind.__name__} (got {_type(v)})")
    return v


def _check_ours(path, state, torch):
    """This project's checkpoint, entry by entry (what save() writes)."""
    if not isinstance(state.get("sample"), str) or not state["sample"]:
        raise InputError(f"{path}: 'sample' must be a name")
    args = _entry(state, "args", path)
    if not all(isinstance(k, str) for k in args):
        raise InputError(f"{path}: its 'args' entry is not an option set")
    _check_schedule(path, state)
    _check_transform(path, _entry(state, "transform", path))
    shape = _check_signal(path, _entry(state, "signal", path), args)
    _check_prepare(path, _entry(state, "prepare", path), shape, torch)
    _check_rng(path, _entry(state, "rng", path), torch)
    _check_recorder(path, _entry(state, "recorder", path))


def _check_schedule(path, state):
    opt = _entry(state, "optimizer", path)
    if not isinstance(opt.get("state"), dict) or not isinstance(opt.get("param_groups"), list):
        raise InputError(f"{path}: 'optimizer' is not an optimizer state")
    sched = _entry(state, "scheduler", path)
    if not is_int(sched.get("last_epoch"), -1) or not all(
            isinstance(sched.get(k, []), list) and all(is_number(x) for x in sched.get(k, []))
            for k in ("base_lrs", "_last_lr")) or not isinstance(sched.get("lr_lambdas", []), list) \
            or any(f is not None for f in sched.get("lr_lambdas", [])):  # LambdaLR saves a None per lambda
        raise InputError(f"{path}: 'scheduler' is not a schedule state")


def _check_transform(path, tf):
    """A transform's name and finite parameters (its class checks their names when decoded), refusing
    the ranges that no transform's inverse survives."""
    name, params = tf.get("name"), tf.get("params")
    if not is_name(name) or not isinstance(params, dict) or not params:
        raise InputError(f"{path}: its transform is not a name with parameters (got {_show(name, 40)!r})")
    for k, v in params.items():
        if not isinstance(k, str) or not is_number(v):
            raise InputError(f"{path}: transform parameter {_show(k, 40)} must be a finite number (got {_type(v)})")
    if params.get("scale", 1) == 0 or params.get("max", 0) < params.get("min", 0) or params.get("std", 0) < 0 \
            or params.get("gamma", 1) <= 0 or params.get("left", 0) < 0 or params.get("right", 0) < 0:
        raise InputError(f"{path}: transform parameters out of range ({', '.join(params)})")


def _check_signal(path, sig, args):
    """The signal's type, shape and nominal range; returns the shape."""
    stype, shape, nominal = sig.get("type"), sig.get("shape"), sig.get("nominal")
    if not isinstance(stype, str) or stype not in SIGNAL_DIMS:
        raise InputError(f"{path}: signal type {_show(stype, 40)!r} is not one of {', '.join(SIGNAL_DIMS)}")
    if args.get("signal_type", stype) != stype:
        raise InputError(f"{path}: its options say {_show(args.get('signal_type'))!r} but its signal is {stype!r}")
    if not isinstance(shape, list) or len(shape) != SIGNAL_DIMS[stype] or not all(is_int(n, 1, 1 << 31) for n in shape):
        raise InputError(f"{path}: signal shape {_show(shape)} is not {SIGNAL_DIMS[stype]} positive sizes "
                         f"(C, *grid) of a {stype}")
    if not isinstance(nominal, dict) or not all(is_number(nominal.get(k)) for k in ("lo", "hi", "levels")) \
            or (nominal["lo"], nominal["hi"], nominal["levels"]) not in NOMINALS:
        raise InputError(f"{path}: nominal range {_show(nominal, 80)} is none of this project's (8-bit, 16-bit, "
                         f"[-1, 1])")
    if not isinstance(sig.get("meta", {}), dict):
        raise InputError(f"{path}: signal meta must be a dict")
    return shape


def _check_prepare(path, prep, shape, torch):
    perm = prep.get("perm")  # what decoding reads ("inverse" is the options')
    if perm is not None:
        n = math.prod(shape[1:])
        if not isinstance(perm, torch.Tensor) or perm.dtype != torch.int64 or perm.shape != (n,) \
                or not torch.equal(perm.sort().values, torch.arange(n)):
            raise InputError(f"{path}: the stored permutation is not one of the signal's {n} positions")


def _check_rng(path, rng, torch):
    np_state, py_state = rng.get("numpy"), rng.get("python")
    if not isinstance(rng.get("torch"), torch.Tensor) or rng["torch"].dtype != torch.uint8 \
            or not isinstance(rng.get("cuda", []), list) \
            or not (isinstance(np_state, (list, tuple)) and len(np_state) == 5 and isinstance(np_state[1], torch.Tensor)
                    and np_state[1].shape == (624,)) \
            or not (isinstance(py_state, (list, tuple)) and len(py_state) == 3 and isinstance(py_state[1], (list, tuple))):
        raise InputError(f"{path}: 'rng' is not the generator states this project saves")


def _check_recorder(path, rec):
    samples = rec.get("samples")
    if not isinstance(samples, dict) or not isinstance(rec.get("attributes"), dict) \
            or not isinstance(rec.get("finished"), list) or not all(isinstance(n, str) for n in rec["finished"]) \
            or not is_number(rec.get("time_s")) or rec["time_s"] < 0:
        raise InputError(f"{path}: 'recorder' is not the metrics state this project saves")
    for name, blocks in samples.items():
        _epoch_blocks(blocks, f"{path}: recorder sample {str(name)[:40]!r}", _metric)
    for name, attrs in rec["attributes"].items():
        _attributes(attrs, f"{path}: recorder attributes {str(name)[:40]!r}")
    scales = rec.get("error_scale", {})
    if not isinstance(scales, dict) or not all(is_number(v) and v > 0 for v in scales.values()):
        raise InputError(f"{path}: recorder error_scale must map samples to positive numbers")
