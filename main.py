"""Fit one signal, or every signal of a folder, with one parameter set; or decode a checkpoint.

    python main.py --input_path data/div2k/test_data/00.png --transform sym_power
    python main.py --resume log/debug/exp_<time>_<rand>
    python main.py --eval_ckpt CKPT [--input_path DATA]
    python main.py --eval_ckpt LOG_DIR --input_path DATA   # every run's last checkpoints (trainer/decode.py)

User mistakes end with one line on standard error and exit code 2; out of memory with 3; a stop by
Ctrl-C, SIGTERM, SIGUSR1 or SIGUSR2 (after a checkpoint of the current epoch) with 130, meaning
"interrupted, resumable". Anything else is a bug and shows its traceback (exit 1).
"""
import json
import os
import sys

import torch

from opt import build_parser, check, defaults
from trainer import trainer_class
from util.errors import UserError, is_out_of_memory, os_error_line
from util.io import InputError, write_json
from util.logger import Logger, run_folder_line

EXIT_USAGE, EXIT_OOM, EXIT_INTERRUPTED = 2, 3, 130


def set_threads():
    n = os.environ.get("OMP_NUM_THREADS")
    if n and n.isdigit() and int(n) > 0:
        torch.set_num_threads(int(n))


def resume_args(parser, run_dir):
    """The interrupted run's own options (args.json), with the resume target kept."""
    path = os.path.join(run_dir, "args.json")
    if not os.path.isfile(path):
        raise InputError(f"{run_dir}: not a run folder (no args.json)")
    with open(path) as f:
        saved = json.load(f)
    args = parser.parse_args([])
    vars(args).update({k: v for k, v in saved.items() if k in vars(args)})
    args.resume, args.save_folder = run_dir, run_dir
    return args


def fit(args):
    from components.metrics import Lpips
    from components.signals import signals_for
    from trainer import checkpoint
    from util.interrupt import DeferredInterrupt
    from util.misc import fix_seed, new_run_folder, resolve_device
    from util.recorder import Recorder, run_complete
    from util.tensorboard import make_writer, write_hparams

    device = resolve_device(args.device)
    cls = trainer_class(args.signal_type)
    state = None
    if args.resume:
        folder = args.save_folder
        if run_complete(folder):
            print(f"{folder}: run already finished; nothing to resume", file=sys.stderr)
            return 0
        state = checkpoint.latest(folder)  # an unsafe checkpoint is refused before anything runs
    signals = signals_for(args.signal_type)
    notes = []  # what listing the inputs had to say, logged once the run's log exists
    samples = signals.list_samples(args.input_path, notes.append)
    if not args.resume:
        for path in samples:
            signals.read(path, vars(args))  # a bad input fails here, before a run folder exists
        if args.run_folder:  # chosen by run.py; made here, exclusively, once the inputs are known to be good
            folder = args.run_folder
            os.makedirs(folder)
        else:
            folder = new_run_folder(args.save_dir, args.up_folder_name, args.tag)
        args.save_folder = folder
        write_json(os.path.join(folder, "args.json"), vars(args))
    log = Logger(folder)
    for note in notes:
        log(note)
    log(run_folder_line(folder, device, args.resume))
    fix_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = bool(args.tf32)
    recorder = Recorder(args.num_epochs)
    writer = make_writer(folder)
    lpips = Lpips(device, log=log) if args.eval_lpips else None  # first random draw, as in the reference
    if lpips is not None and not lpips.available:
        lpips = None
    interrupt = DeferredInterrupt()
    trainer = cls(args, folder, log, writer, recorder, device, lpips, interrupt)
    if state is not None:
        from util.misc import set_rng_state
        recorder.load_state(state["recorder"])
        set_rng_state(state["rng"])
        log(f"resuming after {state['sample']} epoch {state['epoch']}")
    try:
        with interrupt:
            for path in samples:
                name = signals.sample_name(path)
                if name in recorder.finished:
                    continue
                resumes = state is not None and state["sample"] == name and state["epoch"] < args.num_epochs
                trainer.fit(path, state if resumes else None)
        recorder.save(folder, complete=True)
        mean = recorder.mean().get(str(args.num_epochs), {})
        write_hparams(writer, vars(args), mean)
    finally:
        writer.close()
    log(f"done: {folder} " + " ".join(f"{k} {v:.4f}" for k, v in mean.items() if isinstance(v, float)))
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    set_threads()
    try:
        if args.eval_ckpt:
            from trainer.decode import decode
            return decode(args, defaults())
        if args.resume:
            args = resume_args(parser, args.resume)
        return fit(check(args))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # a save_dir under a regular file, no permission, a full disk ...
        print(os_error_line(e), file=sys.stderr)
        return EXIT_USAGE
    except (RuntimeError, MemoryError) as e:
        if not is_out_of_memory(e):
            raise
        print(f"error: out of memory on {args.device or 'the device'}: try a smaller --chunk_rows or --memory_gb "
              f"(rows per training pass), a smaller --batch_size, or fewer --hidden_features", file=sys.stderr)
        return EXIT_OOM
    except KeyboardInterrupt:
        where = getattr(args, "save_folder", None)
        print("interrupted" + (f"; continue with: python main.py --resume {where}" if where else ""), file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
