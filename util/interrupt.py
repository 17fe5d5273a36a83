"""Ctrl-C during training stops the run between two epochs, not wherever Python happens to be.

Why: a KeyboardInterrupt raised while torch.compile's guards are being checked (each call of a compiled
kernel) is swallowed by PyTorch (seen with 2.14), and the run carries on to the end as if nothing had
happened; run.py then has to kill it. So the first SIGINT only asks to stop, and the training loop
raises KeyboardInterrupt at the next epoch boundary; a second SIGINT interrupts at once.
"""
import os
import signal
import threading


class DeferredInterrupt:
    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _on_sigint(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        # os.write, not print: the handler may run while the main thread is inside a print to stderr
        os.write(2, b"\nstopping after this epoch (Ctrl-C again to stop at once)\n")

    def check(self):
        """Raise KeyboardInterrupt if a stop was asked for: call where stopping is safe."""
        if self.requested:
            raise KeyboardInterrupt
