"""util/heap.py: the collector paused while a fit's modules load, their objects frozen for the fit only, and
an entry point's exit without the last collection."""
import gc
import sys

import pytest

from tests.conftest import run_in_process, run_py
from util import heap


def test_loaded_imports_then_freezes_for_the_block_only():
    assert gc.get_freeze_count() == 0
    sys.modules.pop("colorsys", None)
    with heap.loaded("colorsys"):
        assert "colorsys" in sys.modules and gc.get_freeze_count() > 0 and gc.isenabled()
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_an_error_thaws_and_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with pytest.raises(ValueError), heap.loaded():
            raise ValueError
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
    with pytest.raises(ModuleNotFoundError), heap.loaded("no_such_module_anywhere"):
        pass
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_an_in_process_fit_leaves_nothing_frozen(tiny_png, tmp_path):
    run_in_process("main.py", "--input_path", tiny_png, "--save_dir", tmp_path, "--num_epochs", "2", "--log_epoch", "2",
                   "--hidden_features", "8", "--hidden_layers", "1", "--quiet", check=True)
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_leave_exits_with_the_code_after_the_atexit_handlers():
    p = run_py("-c", "import atexit; from util.heap import leave; atexit.register(print, 'atexit ran'); leave(3)")
    assert p.returncode == 3 and p.stdout == "atexit ran\n", p.stderr
