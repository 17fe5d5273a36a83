"""Fit one signal, or every signal of a folder, with one parameter set; or decode a checkpoint.

    python main.py --input_path data/div2k/test_data/00.png --transform sym_power
    python main.py --resume log/debug/exp_<time>_<rand>
    python main.py --eval_ckpt CKPT_OR_LOG_DIR [--input_path DATA]

Exit codes: 2 a user's mistake (one line), 3 out of memory, 130 interrupted (resumable); a bug shows
its traceback (util/errors.py).
"""
import contextlib
import os

from opt import build_parser, check, defaults, resolve
from util import heap, threads
from util.errors import exit_code
from util.recorder import write_failed


def fit(args):
    """Train a new run (args from the command line) or finish an interrupted one (--resume)."""
    from components.metrics import Lpips  # here: --help and a bad option need no torch
    from trainer.loop import Trainer
    from trainer.fit import Run
    from util.interrupt import DeferredInterrupt

    run = Run.resume(args) if args.resume else Run.start(resolve(check(args)))
    if run is None:  # it had finished
        return 0
    with run:
        # LPIPS's network is the first random draw, as in the reference
        lpips = Lpips(run.device, log=run.log) if run.args.eval_lpips else None
        interrupt = DeferredInterrupt()
        trainer = Trainer(run, lpips if lpips is not None and lpips.available else None, interrupt)
        with interrupt:
            for path, state in run.pending():
                trainer.fit(path, state)
        run.finish()
    return 0


def mark_failed(args, reason):
    """A run this process started that stops on an error says so in results.json (never merely unfinished)."""
    folder = getattr(args, "save_folder", None)
    if folder and os.path.isfile(os.path.join(folder, "args.json")):
        with contextlib.suppress(OSError):  # the error line already says what went wrong; a full disk must not hide it
            write_failed(folder, str(reason))


def main(argv=None):
    threads.apply()  # before torch loads OpenMP
    args = build_parser().parse_args(argv)

    def body():
        if args.eval_ckpt:
            with heap.loaded("trainer.decode"):
                from trainer.decode import decode
                return decode(check(args), defaults())
        # fit's modules, and torch._dynamo, which torch.optim's Adam imports when it is built
        with heap.loaded("torch._dynamo", "components.metrics", "trainer.loop", "trainer.fit"):
            return fit(args)

    def interrupted():
        where = args.resume or getattr(args, "save_folder", None)  # Run.start sets it once the folder exists
        return "interrupted" + (f"; continue with: python main.py --resume {where}" if where else "")

    def out_of_memory():
        if getattr(args, "save_folder", None) is None and not args.eval_ckpt:  # Run.start reads every input first
            return (f"error: out of memory reading {args.input_path}, before any training: give a smaller input "
                    f"(audio: a smaller --audio_seconds)")
        return (f"error: out of memory on {args.device or 'the device'}: try a smaller --chunk_rows or --memory_gb "
                f"(rows per training pass), a smaller --batch_size (video), or fewer --hidden_features")

    return exit_code(body, interrupted=interrupted, failed=lambda reason: mark_failed(args, reason),
                     out_of_memory=out_of_memory)


if __name__ == "__main__":
    heap.leave(main())
