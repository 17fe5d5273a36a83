"""A one-off run from an explicit argument list: edit `args` and run `python debug.py`.

Every option of opt.py can be set here; the run goes to log/<up_folder_name>/<tag>_<time>_<random>/.
"""
import os
import subprocess
import sys


def debug(gpu=None):
    args = [
        "--model_type", "siren",
        "--input_path", "./data/div2k/test_data/00.png",
        "--eval_lpips",  # as the published debug.py: the LPIPS network's draws come before the model's
        "--transform", "sym_power",
        "--tag", "debug_demo",
        "--lr", "0.0001",
        "--up_folder_name", "000_demo",
    ]
    env = dict(os.environ)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    cmd = [sys.executable, "main.py", *args, *sys.argv[1:]]
    print("Running: " + " ".join(cmd), file=sys.stderr)
    return subprocess.call(cmd, cwd=os.path.dirname(os.path.abspath(__file__)), env=env)


if __name__ == "__main__":
    sys.exit(debug())
