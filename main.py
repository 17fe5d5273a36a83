"""Fit one signal, or every signal of a folder, with one parameter set; or decode a checkpoint.

    python main.py --input_path data/div2k/test_data/00.png --transform sym_power
    python main.py --resume log/debug/exp_<time>_<rand>
    python main.py --eval_ckpt CKPT [--input_path DATA]
    python main.py --eval_ckpt LOG_DIR --input_path DATA   # every run's last checkpoints (trainer/decode.py)

User mistakes end with one line on standard error and exit code 2; out of memory with 3; a stop by
Ctrl-C, SIGTERM, SIGHUP, SIGUSR1 or SIGUSR2 (after a checkpoint of the current epoch) with 130, meaning
"interrupted, resumable" (util/errors.py's exit_code, as every entry point). Anything else is a bug
and shows its traceback (exit 1). The run itself (folder, options, log, resume) is trainer/run.py's,
the loop trainer/base_trainer.py's.
"""
import os
import sys

from opt import build_parser, check, defaults, resolve
from util import threads
from util.errors import exit_code


def fit(args):
    """Train a new run (args from the command line) or finish an interrupted one (--resume)."""
    from components.metrics import Lpips  # here: --help and a bad option need no torch
    from trainer.base_trainer import BaseTrainer
    from trainer.run import Run
    from util.interrupt import DeferredInterrupt

    run = Run.resume(args) if args.resume else Run.start(resolve(check(args)))
    if run is None:  # it had finished
        return 0
    with run:
        # LPIPS's network is the first random draw, as in the reference
        lpips = Lpips(run.device, log=run.log) if run.args.eval_lpips else None
        interrupt = DeferredInterrupt()
        trainer = BaseTrainer(run, lpips if lpips is not None and lpips.available else None, interrupt)
        with interrupt:
            for path, state in run.pending():
                trainer.fit(path, state)
        run.finish()
    return 0


def mark_failed(args, reason):
    """A run that this process started writing and that stops on an error: its results.json says it
    failed and why (never a folder that looks merely unfinished). A folder it only read stays as it was."""
    folder = getattr(args, "save_folder", None)
    if folder and os.path.isfile(os.path.join(folder, "args.json")):
        from util.recorder import write_failed

        try:
            write_failed(folder, str(reason))
        except OSError:
            pass  # the error line already says what went wrong; a full disk must not hide it


def main(argv=None):
    threads.apply()  # before torch loads OpenMP
    args = build_parser().parse_args(argv)

    def body():
        if args.eval_ckpt:
            from trainer.decode import decode
            return decode(check(args), defaults())
        return fit(args)

    def interrupted():
        where = args.resume or getattr(args, "save_folder", None)  # Run.start sets it once the folder exists
        return "interrupted" + (f"; continue with: python main.py --resume {where}" if where else "")

    return exit_code(body, interrupted=interrupted, failed=lambda reason: mark_failed(args, reason),
                     out_of_memory=f"error: out of memory on {args.device or 'the device'}: try a smaller "
                                   f"--chunk_rows or --memory_gb (rows per training pass), a smaller --batch_size, "
                                   f"or fewer --hidden_features")


if __name__ == "__main__":
    sys.exit(main())
