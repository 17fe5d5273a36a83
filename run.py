"""Run a named experiment: every parameter set of config.PARAM_SETS[exp] as one main.py task.

    python run.py                        # the demo ("000"; the `exp` at the bottom of this file)
    python run.py 001 [--gpus 0,1,3] [--only sym_power,scale_1.0] [--dry_run] [-- --num_epochs 500]
    python run.py 001 --seeds 3407,1,2   # every parameter set once per seed (error bars in the summariser)
    python run.py --resume log/001_trans # finish what an interrupted sweep left
    python run.py --status log/001_trans # every task: state, epoch reached, last PSNR, folder
    python run.py 001 --launcher slurm --partition P   # one SLURM job per parameter set (submitit)

Each free GPU (on the CPU: --workers N at once) takes the next task from sweep/queue.py; a failing task never
stops the others, and the exit code is non-zero if any failed. Options after `--` go to every task.
"""
import argparse
import itertools
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

from config import PARAM_SETS
from manager import UnknownTask, check_experiment, set_defining_options, task_options, to_argv
from opt import RULES, absolute_paths, build_parser, check
from util.cli import Parser
from util.errors import EXIT_INTERRUPTED, InputError, OptionError, UserError, exit_code_for
from util.io import IMAGE_EXTS, missing
from util.lock import hold
from util.misc import run_folder_name
from sweep.queue import Queue, SweepRecord, cores
from util.recorder import run_complete
from util.readers import option_values, read_args, read_json, read_sweep, walk

ROOT = os.path.dirname(os.path.abspath(__file__))
MAIN = "main.py"
SMALL_FIT_PIXELS = 128 * 128  # a fit of at most this many pixels per image leaves cores idle: several run at once


class Task:
    def __init__(self, name, argv, folder=None, param_set=None, resumed=False):
        self.name, self.argv, self.folder = name, list(argv), folder
        self.param_set = param_set or name  # with --seeds a task is one seed of a parameter set
        self.resumed = resumed  # a task of the sweep's record, run again: it keeps its name there
        self.status, self.rc, self.wall, self.last_line = "pending", None, None, ""
        self.proc = self.pump = self.device = self.started = self.log_file = self.samples = None
        self.first_seen = None  # (epoch, time) of the first progress the queue saw: sweep/queue.py's ETA
        self.cwd = ROOT

    def plan_folder(self):
        """main.py's --run_folder, from the task's options checked here: a bad one fails the sweep, not every task."""
        opts = task_opts(self.argv, f"task {self.name}")
        self.folder = run_folder_name(opts.save_dir, opts.up_folder_name, opts.tag)
        self.argv += ["--run_folder", self.folder]

    def command(self):
        return [sys.executable, MAIN, *self.argv]

    def describe(self):
        if self.rc is None:
            return self.status
        if self.rc == 0:
            return "ok"
        if self.rc == EXIT_INTERRUPTED:
            return "interrupted (resumable)"
        return f"killed (signal {-self.rc})" if self.rc < 0 else f"failed (exit {self.rc})"

    def record(self):
        return {"name": self.name, "set": self.param_set, "argv": self.argv, "status": self.describe(), "rc": self.rc,
                "folder": self.folder, "wall_s": self.wall, "pid": self.proc.pid if self.proc else None}


def task_opts(argv, where):
    """main.py's options of a task's argv, parsed and checked as main.py would: UserError naming `where`."""
    p = build_parser()

    def error(message):
        raise OptionError(f"{where}: {message}")

    p.error = error
    opts = p.parse_args(argv)
    if opts.eval_ckpt is not None:
        raise OptionError(f"{where}: --eval_ckpt decodes; it is no sweep task")
    try:
        return check(opts)
    except OptionError as e:
        raise OptionError(f"{where}: {e}") from None


def _items(spec, option):
    """The comma-separated items of an option; an empty item is a typo, refused."""
    items = [s.strip() for s in spec.split(",")]
    if not spec.strip() or any(not s for s in items):
        raise OptionError(f"{option} {spec!r}: expected comma-separated items, none of them empty")
    return items


def check_args(args):
    """run.py's own options, checked before anything starts (as opt.check does main.py's)."""
    if args.resume is not None and args.status is not None:
        raise OptionError("--resume and --status: give one of them")
    for flag, value in (("--save_dir", args.save_dir), ("--resume", args.resume), ("--status", args.status)):
        if value == "":  # '' would be the default or the current folder: an unset shell variable, not a choice
            raise OptionError(f"{flag} is empty: name a folder")
    given = args.resume or args.status
    if given is not None:
        name = "--resume" if args.resume is not None else "--status"
        if not os.path.isdir(given):
            raise InputError(f"{name} {given}: " + ("a file, not a sweep folder" if os.path.exists(given) else
                                                     "no such folder"))
        fixed = (("an experiment id", args.exp), ("--only", args.only), ("--seeds", args.seeds),
                 ("options after --", args.extra), ("--save_dir", args.save_dir), ("--full", args.full))
        how = (("--dry_run", args.dry_run), ("--gpus", args.gpus), ("--workers", args.workers),
               ("--launcher", args.launcher), ("--partition", args.partition), ("--time", args.time),
               ("--gpus_per_task", args.gpus_per_task))
        clash = [o for o, v in fixed + (how if args.status is not None else ()) if v not in (None, False, [])]
        if clash:
            raise OptionError(f"{name} {given} " + ("continues a sweep as it was started, into its own folder"
                              if args.resume is not None else "only shows a sweep") + f": {clash[0]} cannot be "
                              f"given with it")
    if args.full and (args.exp or "000") != "000":
        raise OptionError("--full is the demo's (experiment 000)")
    if args.only is not None:
        _items(args.only, "--only")
    if args.gpus is not None and args.gpus.strip():
        ids = _items(args.gpus, "--gpus")
        if not all(re.fullmatch(r"[0-9]{1,3}", g) for g in ids) or len(set(ids)) != len(ids):
            raise OptionError(f"--gpus {args.gpus!r}: expected distinct GPU ids such as 0,1,3 (or '' for the CPU)")
        visible_gpus(args.gpus)  # each one there, before anything is written
    if args.time is not None and not (math.isfinite(args.time) and 1 / 60 <= args.time <= 60 * 24 * 365):
        raise OptionError(f"--time {args.time:g}: minutes per job, at least 1/60 (a second)")
    if args.gpus_per_task is not None and not 0 <= args.gpus_per_task <= 64:
        raise OptionError(f"--gpus_per_task {args.gpus_per_task}: expected 0 to 64")
    args.launcher = args.launcher or "queue"
    for option, value, launchers in (("--partition", args.partition, ("slurm",)), ("--gpus_per_task", args.gpus_per_task,
                                     ("slurm",)), ("--time", args.time, ("slurm", "local")),
                                     ("--gpus", args.gpus, ("queue", "local"))):
        if value is not None and args.launcher not in launchers:
            raise OptionError(f"{option} is for --launcher {' or '.join(launchers)}, not {args.launcher}")
    args.time = 120 if args.time is None else args.time
    args.gpus_per_task = 1 if args.gpus_per_task is None else args.gpus_per_task
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise OptionError(f"--workers {args.workers}: expected 1 to 1024 tasks at once (per GPU)")
    if args.workers is not None and args.launcher != "queue":
        raise OptionError(f"--workers is the queue's: --launcher {args.launcher} runs one job per task")
    return args


# main.py options that make a task something other than one fresh fit in its own folder: given to every task
# they would send every set to one folder (whose lock then stops all but one) or to another command.
NOT_FOR_EVERY_TASK = {
    "resume": "continues one run, not a sweep's tasks: continue a sweep with python run.py --resume LOG_DIR",
    "eval_ckpt": "decodes a checkpoint, not a sweep's task: run python main.py --eval_ckpt PATH itself",
    "run_folder": "would put every task into one folder: each task's folder is named after its set (the "
                  "root is run.py's --save_dir)",
}


def check_set_options(extra, exp):
    """Refuse an option after `--` that defines a parameter set of `exp`: every row would show another fit
    than its name says (manager.set_defining_options)."""
    p = build_parser()
    for action in p._actions:
        action.default = argparse.SUPPRESS  # the namespace holds only the options given
    p.error = lambda message: None  # a bad value is task_opts's to report, with its own line
    given, _ = p.parse_known_args(extra)
    other_command = sorted(set(vars(given)) & set(NOT_FOR_EVERY_TASK))
    if other_command:
        raise OptionError(f"options after --: --{other_command[0]} {NOT_FOR_EVERY_TASK[other_command[0]]}")
    defining = sorted(set(vars(given)) & set_defining_options(exp))
    if defining:
        raise OptionError(f"options after --: --{defining[0]} defines experiment {exp}'s parameter sets and cannot "
                          f"be given to every set; choose sets with --only, or add one to config.py")


def parse(argv, default_exp="000"):
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = Parser(prog="run.py", usage="python run.py [exp] [options] [-- main.py options]",
                description=__doc__.split("\n\n")[0], epilog=epilog(default_exp),
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("exp", nargs="?", help=f"experiment id, one of {', '.join(PARAM_SETS)} (config.py); "
                    f"default {default_exp}" + (", the demo" if default_exp == "000" else ""))
    ap.add_argument("--gpus", default=None, help="comma-separated GPU ids (default: every visible GPU; '': the CPU)")
    ap.add_argument("--only", default=None, help="comma-separated parameter sets to run (default: all of them)")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds: every parameter set once per seed "
                    "(main.py --seed; the tag gets _seed<N>)")
    ap.add_argument("--dry_run", action="store_true", help="print one main.py command per task and exit")
    ap.add_argument("--full", action="store_true", help="demo: the paper's setting even without a GPU")
    ap.add_argument("--resume", default=None, metavar="LOG_DIR", help="resume every unfinished task of a sweep")
    ap.add_argument("--status", metavar="LOG_DIR", help="print every task of a sweep (run here or submitted): "
                    "state, epoch reached, last PSNR, run folder, job id")
    ap.add_argument("--launcher", default=None, choices=("queue", "local", "slurm"),
                    help="queue (default): subprocesses here, one per free GPU; local / slurm: submitit jobs")
    ap.add_argument("--partition", default=None, help="slurm partition")
    ap.add_argument("--gpus_per_task", type=int, default=None, help="slurm: GPUs per job (default 1)")
    ap.add_argument("--time", type=float, help="local / slurm: minutes per job (default 120); at the limit a job "
                    "checkpoints and is requeued")
    ap.add_argument("--save_dir", help="root of the run folders, as main.py's --save_dir (default ./log)")
    ap.add_argument("--workers", type=int, help="tasks at once on the CPU (per GPU with GPUs), the CPU's threads "
                    f"split between them (default: on the CPU, every core busy when each image has at most "
                    f"{SMALL_FIT_PIXELS} pixels, else 1; one per GPU)")
    args = ap.parse_args(argv)
    args.extra = extra
    return args


def visible_gpus(spec):
    """The GPUs the queue hands out: --gpus (each one nvidia-smi lists), else CUDA_VISIBLE_DEVICES's, else
    nvidia-smi's."""
    if spec is not None:
        ids = [g.strip() for g in spec.split(",") if g.strip() != ""]
        present = nvidia_gpus() if ids else []
        absent = [g for g in ids if g not in present]
        if absent:
            raise OptionError(f"--gpus {spec}: no GPU {', '.join(absent)} on this machine (" +
                              (f"nvidia-smi lists {', '.join(present)}" if present else "no NVIDIA GPU found") +
                              "); --gpus '' runs on the CPU")
        return ids
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:  # CUDA stops at the first invalid entry ("-1": none)
        entries = (g.strip() for g in visible.split(","))
        return list(itertools.takewhile(lambda g: g and not g.startswith("-"), entries))
    return nvidia_gpus()


def nvidia_gpus():
    """The GPU ids nvidia-smi lists; none without it, or (with one warning) when it fails."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        p = subprocess.run([smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True,
                           timeout=60)
        why = f"exit {p.returncode}: {(p.stderr or p.stdout).strip().splitlines()[:1]}" if p.returncode else ""
    except (OSError, subprocess.SubprocessError) as e:
        why = f"{type(e).__name__}: {e}"
    if why:
        print(f"warning: nvidia-smi failed ({why}); the sweep runs on the CPU (--gpus 0,1 names GPUs)",
              file=sys.stderr, flush=True)
        return []
    return [line.strip() for line in p.stdout.splitlines() if line.strip()]


def parse_seeds(spec, extra):
    """[None] (the experiment's own seed) or the distinct integer seeds of --seeds."""
    if spec is None:
        return [None]
    try:
        seeds = list(dict.fromkeys(int(s) for s in _items(spec, "--seeds")))
    except ValueError:
        raise UserError(f"--seeds {spec}: expected comma-separated integers, e.g. 3407,1,2") from None
    bad = [s for s in seeds if not RULES["seed"][0](s)]
    if bad:
        raise UserError(f"--seeds: seed {bad[0]} must be {RULES['seed'][1]}")
    if "--seed" in extra:
        raise UserError("--seeds and a --seed after '--' contradict each other: give one of them")
    return seeds


def build_tasks(exp, only, extra, save_dir, seeds=(None,)):
    sets = PARAM_SETS[exp]
    if only is not None:
        wanted = _items(only, "--only")
        bad = [s for s in wanted if s not in sets]
        if bad:
            raise UnknownTask(f"unknown parameter set(s) {', '.join(bad)} for experiment {exp} (valid: {', '.join(sets)})")
        sets = [s for s in sets if s in wanted]
    tasks = []
    for s in sets:
        for seed in seeds:
            opts = task_options(exp, s)
            if seed is not None:
                opts.update({"seed": seed, "tag": f"{s}_seed{seed}"})
            tasks.append(Task(opts["tag"], to_argv(opts) + ["--save_dir", save_dir] + extra, param_set=s))
    return tasks


def resume_tasks(log_dir):
    """Tasks of an interrupted sweep: unfinished run folders resume, never-started tasks start."""
    saved = read_sweep(log_dir)
    tasks = []
    if saved is not None:
        for t in saved.tasks:
            if t.status == "ok":
                continue
            if t.folder and os.path.isfile(os.path.join(t.folder, "args.json")):
                tasks.append(Task(t.name, ["--resume", t.folder], t.folder, t.set, resumed=True))
            else:  # never started: started now, into the folder it was given (its argv's --run_folder)
                opts = task_opts(t.argv, f"{log_dir}/sweep.json: task {t.name}")
                tasks.append(Task(t.name, t.argv, opts.run_folder, t.set, resumed=True))
        return saved.experiment, tasks, saved.meta
    found = 0
    for dirpath, dirs, files in walk(log_dir):
        if "args.json" in files:
            dirs[:] = []  # a run folder's subfolders hold no runs
            found += 1
            if not run_complete(dirpath):
                name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(dirpath)).lstrip(".") or "run"
                tasks.append(Task(name, ["--resume", os.path.abspath(dirpath)], os.path.abspath(dirpath), resumed=True))
    if not found:
        raise InputError(f"--resume {log_dir}: not a sweep (no sweep.json) and it holds no run folders (args.json)")
    return None, tasks, None


def report(tasks):
    width = max(len(t.name) for t in tasks)
    for t in tasks:
        folder = t.folder if t.folder and os.path.isdir(t.folder) else "-"  # a task refused at the door made none
        line = f"{t.name:<{width}}  {t.describe():<18}  {t.wall if t.wall is not None else 0:8.1f} s  {folder}"
        if t.rc not in (0, None) and t.last_line:
            line += f"  | {t.last_line[:200]}"
        print(line, flush=True)
    return 0 if all(t.rc == 0 for t in tasks) else 1


def warn_missing_inputs(tasks):
    """--dry_run: one warning per input the tasks (run in the repository) would not find."""
    paths = dict.fromkeys(p for t in tasks for p in option_values(t.argv, "--input_path")[-1:])
    for path in paths:
        if not path.startswith("builtin:") and not os.path.exists(os.path.join(ROOT, path)):
            print(f"warning: {missing(path)}; the tasks would stop there", file=sys.stderr, flush=True)


def print_commands(tasks):
    for t in tasks:
        print(" ".join(shlex.quote(a) for a in ["python", MAIN, *t.argv]))
    return 0


def epilog(default_exp):
    example = os.path.join("log", "001_trans")
    return "\n".join([
        f"A bare `python run.py` runs experiment {default_exp}"
        + (" (the demo: one short fit, sized to the machine)" if default_exp == "000" else "") + ";",
        "edit `exp` at the bottom of run.py to change it.",
        "",
        "Options after `--` go to every task's main.py and override the experiment's (`python main.py --help`",
        "lists them), e.g.  python run.py 001 -- --num_epochs 500 --log_epoch 100",
        "",
        f"Looking at a sweep ({example}: <save_dir>/<id>_<name>):",
        f"  python run.py --status {example}",
        *(f"  {c}" for c in next_steps(example, [(s, os.path.join(example, s))  # two sets: the paired comparison
                                                for s in ("scale_1.0", "sym_power")])),
    ])


def next_steps(log_dir, runs):
    """TensorBoard and the summariser's commands for finished runs [(parameter set, run folder)]."""
    from util.tensorboard import tensorboard_command

    run_args = []
    for _, folder in runs:
        try:
            run_args.append(read_args(folder))
        except InputError:  # a task that wrote no args.json logged no images
            pass
    d = shlex.quote(log_dir)
    sets = list(dict.fromkeys(param_set for param_set, _ in runs))
    # scale_1.0 (Table 1's baseline) or the first set, each protocol's or backbone's own (summarize.is_baseline)
    first = sets[0].split("@")[0] if sets else None
    baseline = ("scale_1.0" if any(s.split("@")[0].split("-", 1)[-1] == "scale_1.0" for s in sets) else first) \
        if len(sets) > 1 else None
    return [tensorboard_command(log_dir, run_args),
            f"python summarize.py {d}" + (f" --baseline {shlex.quote(baseline)}" if baseline else "") +
            f" --plot {shlex.quote(os.path.join(log_dir, 'curves.png'))}"]


def default_workers(tasks, devices):
    """Tasks at once per device without --workers: one per GPU; on the CPU a task per core when every fit is small
    (one such fit cannot keep several cores busy), else 1."""
    if devices or not all(_small(t) for t in tasks):
        return 1
    return max(1, min(len(tasks), cores()))


def _small(task):
    """Whether the task fits images of at most SMALL_FIT_PIXELS pixels each; anything unknown is not small."""
    try:
        if task.argv[:1] == ["--resume"]:
            args = read_json(os.path.join(task.folder, "args.json"))
            path, kind = args["input_path"], args.get("signal_type", "image")
        else:
            path = option_values(task.argv, "--input_path")[-1]
            kind = (option_values(task.argv, "--signal_type") or ["image"])[-1]
        if kind != "image":
            return False
        from PIL import Image

        files = [os.path.join(path, n) for n in os.listdir(path)] if os.path.isdir(path) else [path]
        images = [f for f in files if os.path.splitext(f)[1].lower() in IMAGE_EXTS]
        for f in images:
            with Image.open(f) as im:
                if im.size[0] * im.size[1] > SMALL_FIT_PIXELS:
                    return False
        return bool(images)
    except Exception:  # a missing or odd input is the task's to report; here it only means "not small"
        return False


def run_sweep(args, exp, tasks, log_dir, meta):
    """The tasks through the queue (or submitit), recorded in <log_dir>/sweep.json; then the report."""
    if args.launcher != "queue":
        from sweep.launch import submit
        return submit(tasks, log_dir, meta, args)
    devices = visible_gpus(args.gpus)
    record = SweepRecord(log_dir, meta)
    record.add(tasks)
    workers = args.workers or default_workers(tasks, devices)
    slots = [d for _ in range(workers) for d in devices or [None]]
    queue = Queue(tasks, slots, record, echo=len(slots) <= 1)
    if len(slots) > 1:
        where = f"{workers} per GPU" if devices else "on the CPU"
        print(f"[run] {len(slots)} tasks at once ({where}), {queue.threads} thread(s) each", file=sys.stderr,
              flush=True)
    try:
        queue.run()
    except KeyboardInterrupt:
        report(tasks)
        return EXIT_INTERRUPTED
    rc = report(tasks)
    show_sweep(log_dir, record)
    if exp == "000" and not args.resume:
        from sweep.demo import demo_summary
        demo_summary(tasks[0])
    return rc


def show_sweep(log_dir, record):
    """The sets' histograms overlaid (earlier sweeps' ok tasks too) and the commands that show the sweep."""
    runs = []
    for param_set, folder, name in record.finished():
        if folder is None or not os.path.isdir(folder):
            print(f"[run] {name}: finished, but its run folder {folder or '(unknown)'} is not there; left out of "
                  f"the comparison", file=sys.stderr, flush=True)
        else:
            runs.append((param_set, folder))
    if not runs:
        return
    from sweep.overlay import OVERLAY, set_means, write_overlay, write_set_sessions

    write_set_sessions(log_dir, set_means(runs))
    pictures = write_overlay(log_dir, runs)
    print("[run] to look at the sweep:\n" + "\n".join(f"  {c}" for c in next_steps(log_dir, runs))
          + (f"\n  the sets' histograms overlaid: {os.path.join(log_dir, OVERLAY)} ({len(pictures)} "
             f"picture(s), also TensorBoard's run {OVERLAY})" if pictures else ""), file=sys.stderr, flush=True)


def show_status(log_dir):
    """--status: a submitted sweep's jobs (jobs.json), else a queue sweep's tasks or the run folders below."""
    if os.path.lexists(os.path.join(log_dir, "jobs.json")):
        from sweep.launch import print_status
    else:
        from sweep.status import print_status
    return print_status(log_dir)


def main(argv, default_exp="000"):
    args = parse(argv, default_exp)
    try:
        check_args(args)
        if args.status:
            return show_status(args.status)
        if args.resume:
            exp, tasks, _ = resume_tasks(args.resume)  # a bad record is refused before anything is written, the lock file too
            if tasks and args.dry_run:
                return print_commands(tasks)
            if tasks:
                with hold(args.resume, "sweep folder"):  # then read again as the folder's only writer
                    exp, tasks, meta = resume_tasks(args.resume)
                    if tasks:
                        meta = {k: v for k, v in (meta or {"experiment": exp}).items() if k != "tasks"}
                        return run_sweep(args, exp, tasks, args.resume, meta)
            print(f"{args.resume}: every task has finished; nothing to resume", file=sys.stderr)
            return 0
        exp = args.exp or default_exp
        check_experiment(exp)
        check_set_options(args.extra, exp)
        # the tasks run in the repository: every path the user gave is made absolute from where run.py runs
        save_dir, extra = os.path.abspath(args.save_dir or "log"), absolute_paths(args.extra, os.getcwd())
        if exp == "000" and not args.dry_run:
            from sweep.demo import demo_profile
            save_dir = task_opts(["--save_dir", save_dir, *extra, "--input_path", "-"], "options after --").save_dir
            demo = demo_profile(args, visible_gpus(args.gpus), save_dir)  # the input goes where the runs go
            extra = ["--input_path", demo["input_path"], *demo["options"], *extra]  # the user's come last
        tasks = build_tasks(exp, args.only, extra, save_dir, parse_seeds(args.seeds, args.extra))
        if args.dry_run:
            warn_missing_inputs(tasks)
            return print_commands(tasks)
        for t in tasks:
            t.plan_folder()
        log_dir = os.path.dirname(tasks[0].folder)  # <save_dir>/<id>_<name>, as the tasks' own options say
        os.makedirs(log_dir, exist_ok=True)
        with hold(log_dir, "sweep folder"):  # one sweep at a time adds to a folder's record
            meta = {"experiment": exp, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
            return run_sweep(args, exp, tasks, log_dir, meta)
    except (UserError, OSError) as e:  # a bad option, a log folder that cannot be written ...
        return exit_code_for(e)


if __name__ == "__main__":
    exp = "000"  # edit to pick the experiment run by a bare `python run.py` (see config.PARAM_SETS)
    sys.exit(main(sys.argv[1:], default_exp=exp))
