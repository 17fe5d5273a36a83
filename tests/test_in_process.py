"""conftest.run_in_process: an entry point called here leaves this process as it found it."""
import os
import signal

import torch

from tests.conftest import one_line_error, run_in_process


def test_a_run_in_process_restores_what_it_changes(tiny_png, fast_args, tmp_path):
    before = (os.getcwd(), dict(os.environ), torch.are_deterministic_algorithms_enabled(),
              signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), torch.get_rng_state())
    torch.set_num_threads(2)
    p = run_in_process("main.py", "--input_path", tiny_png, "--num_epochs", "2", "--log_epoch", "2",
                       *fast_args[6:], "--save_dir", tmp_path / "log", cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert p.returncode == 0 and "done" in p.stderr  # its output is captured, not lost
    after = (os.getcwd(), dict(os.environ), torch.are_deterministic_algorithms_enabled(),
             signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), torch.get_rng_state())
    assert after[:5] == before[:5] and torch.equal(after[5], before[5])
    assert torch.get_num_threads() == 2  # main.py set 1 from OMP_NUM_THREADS


def test_argparse_exits_become_exit_codes():
    assert run_in_process("main.py", "--help").returncode == 0
    one_line_error(run_in_process("main.py", "--no_such_option"), "--no_such_option")
