"""Python's garbage collector and the objects a fit loads once (docs/performance.md, "Beside other
work"). Torch, its compiler and sympy leave about 360,000 objects that live as long as the process; the
collector walked them all six times while they loaded (0.53 to 0.57 s of a 64x64 fit's 4.0 to 4.4 s on this
project's 2-core machine) and once more at the interpreter's exit (1.0 to 1.3 s). So: nothing collected while they load, then
frozen (the collector never walks them again); the process ends without the last collection."""
import contextlib
import gc
import importlib
import sys


@contextlib.contextmanager
def loaded(*modules):
    """Import `modules` with the collector paused, freeze every object so far and run the block; the freeze
    ends with the block (a caller that goes on, a test calling main(), collects its garbage again)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        for name in modules:
            importlib.import_module(name)
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
    try:
        yield
    finally:
        gc.unfreeze()


def leave(code):
    """sys.exit(code) without the interpreter's last collection; atexit handlers still run. For an entry
    point's `__main__`, after its files are closed, never for an in-process call."""
    gc.freeze()
    sys.exit(code)
