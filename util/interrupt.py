"""Stopping a run between two epochs, with a checkpoint: a first Ctrl-C asks for it, a second stops at once
(PyTorch swallows a KeyboardInterrupt raised inside torch.compile's guards). SIGTERM, SIGUSR1/2 (a cluster's
time limit) and SIGHUP (a closed terminal) never escalate: the grace period is for the checkpoint."""
import os
import signal
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP)


class SignalHandlers:
    """`handlers()` ({signal: function}) installed while inside (main thread only, as Python allows); on exit
    a signal caught meanwhile goes on to the caller's own previous handler (tests/conftest.py's stop)."""

    def handlers(self):
        raise NotImplementedError

    def __enter__(self):
        self._previous, self._caught = {}, []
        if threading.current_thread() is threading.main_thread():
            for sig, handler in self.handlers().items():
                self._previous[sig] = signal.signal(sig, self._noting(handler))
        return self

    def _noting(self, handler):
        def on_signal(signum, frame):
            self._caught.append(signum)
            handler(signum, frame)
        return on_signal

    def __exit__(self, *exc):
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(self._caught):  # Python's own SIGINT handler is no caller's: a run that ended is not stopped
            if callable(previous[sig]) and previous[sig] is not signal.default_int_handler:
                previous[sig](sig, None)
        return False


class DeferredInterrupt(SignalHandlers):
    def __init__(self):
        self.requested = False

    def handlers(self):
        return {signal.SIGINT: self._on_sigint, **{sig: self._on_stop_signal for sig in STOP_SIGNALS}}

    def _on_sigint(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        # os.write, not print: the handler may run while the main thread is inside a print to stderr
        os.write(2, b"\nstopping after this epoch (Ctrl-C again to stop at once)\n")

    def _on_stop_signal(self, signum, frame):
        if not self.requested:
            self.requested = True
            os.write(2, f"\n{signal.Signals(signum).name}: stopping after this epoch, with a checkpoint\n".encode())

    def check(self):
        """Raise KeyboardInterrupt if a stop was asked for: call where stopping is safe."""
        if self.requested:
            raise KeyboardInterrupt
