"""A one-off run from an explicit argument list: edit `args` and run `python debug.py`.

    python debug.py                                   # the list below: SIREN + sym_power on DIV2K 00
    python debug.py --num_epochs 300 --log_epoch 100  # options after it go to main.py, after the list's
    python debug.py --input_path my.png --tag try2    # ... so they override it (argparse: the last wins)

The list's paths are the repository's, the command's are where you run it; the run goes to
./log/debug/<tag>_<time>_<random>/ there, apart from the demo's log/000_demo/.
"""
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def debug(gpu=None):
    args = [
        "--model_type", "siren",
        "--input_path", "./data/div2k/test_data/00.png",
        "--eval_lpips",  # as the published debug.py: the LPIPS network's draws come before the model's
        "--transform", "sym_power",
        "--tag", "debug_demo",
        "--lr", "0.0001",
        "--up_folder_name", "debug",  # its own folder, not the demo's
    ]
    env = dict(os.environ)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    from opt import absolute_paths

    cmd = [sys.executable, os.path.join(HERE, "main.py"), *absolute_paths(args, HERE), *sys.argv[1:]]
    print("Running: " + " ".join(cmd), file=sys.stderr)
    return run_main(cmd, env)


def run_main(cmd, env):
    """main.py's exit code. A terminal's Ctrl-C reaches main.py itself, which checkpoints and exits 130; so this
    process ignores SIGINT while it waits (subprocess.call would kill main.py with no checkpoint)."""
    child = subprocess.Popen(cmd, env=env)  # here, as main.py itself would run
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(debug())
