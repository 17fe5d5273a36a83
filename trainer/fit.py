"""One run of main.py: its folder, resolved options (args.json), log, TensorBoard writer, recorder, device and
resume state, in one object the loop (trainer/loop.py) is given. Resuming is read and applied here only.
"""
import os
import sys

import torch

from components.signals import modality
from opt import ROLE, ROLES, build_parser, check, check_device, check_values, read_options, resolve
from trainer import checkpoint
from util.errors import InputError, OptionError
from util.io import write_json
from util.lock import LOCK_FILE, hold
from util.logger import Logger, run_folder_line
from util.misc import fix_seed, new_run_folder, resolve_device, set_rng_state
from util.readers import option_values, read_sweep
from util.recorder import Recorder, run_complete
from util import threads
from util.tensorboard import make_writer, write_hparams

OLD_VIDEO_BATCH = 4096  # what args.json held for a derived video batch before options were resolved
NOT_SAVED = ("resume", "eval_ckpt", "run_folder")  # what a run was started with, not how it fits
# --chunk_rows and --memory_gb plan a step together: one given with --resume replaces both (the other
# at its default), so that a budget given for a run saved with a row count is not a conflict
MEMORY = ("chunk_rows", "memory_gb")


def resume_args(given, notes):
    """The interrupted run's own options (its args.json) over today's defaults, resolved. Of the command
    line's (`given`) only those of how it runs (opt.ROLES["run"]) may be given, each said in `notes`."""
    run_dir = given.resume
    if not os.path.isdir(run_dir):
        raise InputError(f"--resume {run_dir}: " + ("a file, not a run folder" if os.path.exists(run_dir) else
                                                   "no such folder"))
    parser = build_parser()
    saved = read_options(run_dir)
    if saved.get("lr") is None and saved.get("signal_type") == "video" and saved.get("batch_size") == OLD_VIDEO_BATCH:
        saved["batch_size"] = None  # written before resolution, when the literal 4096 meant "derived"
    args = parser.parse_args([])
    base = dict(vars(args))
    changed = [k for k, v in vars(given).items() if k != "resume" and v != base[k]]
    other = [k for k in changed if ROLE.get(k) != "run"]
    if other:
        raise OptionError(f"--resume continues {run_dir} with its own options (args.json): --{other[0]} cannot "
                          f"be given with it (only how it runs: {', '.join('--' + k for k in ROLES['run'])})")
    check_values(vars(given))  # the command line's own (a --memory_gb with a --chunk_rows R) before args.json's
    check_device(given.device)
    vars(args).update({k: v for k, v in saved.items() if k in vars(args) and k not in NOT_SAVED})
    taken = changed + [k for k in MEMORY if k not in changed and any(m in changed for m in MEMORY)]
    vars(args).update({k: getattr(given, k) for k in taken})
    notes.extend(f"resume: --{k} {getattr(given, k)} (how it runs; args.json says {saved.get(k, base[k])})"
                 for k in taken if getattr(given, k) != saved.get(k, base[k]))
    args.resume = run_dir
    try:
        return resolve(check(args))
    except OptionError as e:  # a value args.json holds (the command line's were refused above)
        raise InputError(f"{os.path.join(run_dir, 'args.json')}: {e}") from None


class Run:
    """A run's folder and what writes into it. Made by `start` or `resume`; making it seeds every
    generator (the reference seeds once per process) and opens the log and the TensorBoard writer."""

    def __init__(self, args, device, folder, samples, lock, notes=(), state=None):
        self.args, self.device, self.folder, self.samples = args, device, folder, samples
        self.lock = lock  # util/lock.py's, held since before anything was written; released on exit
        self.modality = modality(args.signal_type)
        self.state = state  # the latest checkpoint of a resumed run (None: from the start)
        self.log = Logger(folder)
        for note in notes:  # what listing the inputs had to say, logged once the run's log exists
            self.log(note)
        self.log(run_folder_line(folder, device, args.resume))
        self.log(threads.chosen or f"threads: {torch.get_num_threads()}")  # chosen: main.py's
        fix_seed(args.seed)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = bool(args.tf32)
        self.recorder = Recorder(args.num_epochs, args.lr_schedule, args.loss)
        self.writer = make_writer(folder)

    @classmethod
    def start(cls, args):
        """A new run of resolved options: every input is read first, so that a bad one fails before a run
        folder exists. The video batch, left None, is derived from the data here and recorded."""
        device = resolve_device(args.device)
        m = modality(args.signal_type)
        notes = []
        samples = m.io.list_samples(args.input_path, notes.append)
        for path in samples:
            signal = m.io.read(path, vars(args))
        if m.uses_batch_size and args.batch_size is None and len(samples) == 1:
            args.batch_size = m.batch(None, signal.data[0].numel())
        if args.run_folder:  # chosen by run.py; made here once the inputs are known to be good
            folder = args.run_folder
            os.makedirs(folder, exist_ok=True)  # a task killed before its args.json left it empty: started again
        else:
            folder = new_run_folder(args.save_dir, args.up_folder_name, args.tag)
        lock = hold(folder, "run folder")
        if set(os.listdir(folder)) - {LOCK_FILE}:
            lock.release()
            raise InputError(f"--run_folder {folder}: already holds a run; a run starts in a new or empty folder "
                             f"(continue one with --resume)")
        args.save_folder = folder
        write_json(os.path.join(folder, "args.json"), vars(args))
        return cls._opened(args, device, folder, samples, lock, notes)

    @classmethod
    def _opened(cls, *args, **kwargs):
        """The Run, or its folder's lock released if making it fails."""
        try:
            return cls(*args, **kwargs)
        except BaseException:
            args[4].release()
            raise

    @classmethod
    def resume(cls, given):
        """The interrupted run `given.resume`, or None (said on standard error) if it had finished. Its latest
        checkpoint is checked before anything is written; `given.save_folder` then names the folder (main.py
        marks it failed if the run stops on an error)."""
        notes = []
        args = resume_args(given, notes)
        run_dir = args.resume
        device = resolve_device(args.device)
        lock = hold(run_dir, "run folder")  # two resumes of one run must not both train it
        try:
            if run_complete(run_dir):
                print(f"{run_dir}: run already finished; nothing to resume", file=sys.stderr)
                lock.release()
                return None
            state = checkpoint.latest(run_dir)  # an unsafe checkpoint is refused before anything runs
            io = modality(args.signal_type).io
            samples = io.list_samples(args.input_path, notes.append)
            if state is not None:
                checkpoint.check_resume(run_dir, state, args, io, samples)
        except BaseException:
            lock.release()
            raise
        args.save_folder = given.save_folder = run_dir
        return cls._opened(args, device, run_dir, samples, lock, notes, state)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.writer.close()
        finally:
            self.lock.release()
        return False

    def pending(self):
        """(path, checkpoint to continue from or None) of each sample not finished yet. A resumed run's
        recorder and generators are restored here, once, before the first of them."""
        s = self.state
        if s is not None:
            self.recorder.load_state(s["recorder"])
            set_rng_state(s["rng"])
            self.log(f"resuming after {s['sample']} epoch {s['epoch']}")
        for path in self.samples:
            name = self.modality.io.sample_name(path)
            if name in self.recorder.finished:
                continue
            yield path, s if s is not None and s["sample"] == name and s["epoch"] < self.args.num_epochs else None

    def finish(self):
        """results.json marked complete, the options and final metrics in TensorBoard's HParams tab."""
        self.recorder.save(self.folder, complete=True)
        means = self.recorder.mean()  # the image means are known once every sample has logged
        mean = means.get(str(self.args.num_epochs), {})
        write_hparams(self.writer, vars(self.args), means, hparam_domains(self.folder), ROLES["fit"],
                      list(self.recorder.samples))
        self.log(f"done: {self.folder} " + " ".join(f"{k} {v:.4f}" for k, v in mean.items() if isinstance(v, float)))


def hparam_domains(folder):
    """The names a string option of the HParams table can take: the project's tables, config.py's parameter
    sets and the seeds of the sweep.json beside the run's folder (a run made by hand adds its own)."""
    from components.signals import MODALITIES
    from components.transform import TRANSFORMS
    from config import PARAM_SETS
    from models import MODELS
    from components.loss import LOSSES
    from trainer.schedule import LR_SCHEDULES

    return {"transform": list(TRANSFORMS), "model_type": list(MODELS), "signal_type": list(MODALITIES),
            "lr_schedule": list(LR_SCHEDULES), "loss": list(LOSSES),
            "set": [s for sets in PARAM_SETS.values() for s in sets], "seed": sweep_seeds(folder)}


def sweep_seeds(folder):
    """The seeds of the tasks in the sweep.json beside a run folder (none without one)."""
    try:
        sweep = read_sweep(os.path.dirname(os.path.abspath(folder)))
    except InputError:  # an unreadable sweep.json names no seeds; the run's own still counts
        return []
    tasks = sweep.tasks if sweep is not None else []
    return sorted({int(v) for t in tasks for v in option_values(t.argv, "--seed") if v.isdigit()})
