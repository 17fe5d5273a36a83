"""A run's text log: every line goes to <run>/log.txt and to standard error (never standard output,
which carries machine-readable results)."""
import datetime
import os
import sys

from tqdm import tqdm


def run_folder_line(folder, device, resumed):
    return f"run folder {folder} on {device}" + (" (resumed)" if resumed else "")


class Logger:
    def __init__(self, folder=None):
        self.path = os.path.join(folder, "log.txt") if folder else None

    def __call__(self, msg, level="INFO"):
        line = f"{datetime.datetime.now().strftime('%H:%M:%S')} {level} {msg}"
        if self.path:
            with open(self.path, "a", encoding="utf-8", errors="backslashreplace") as f:
                f.write(line + "\n")
        tqdm.write(line, file=sys.stderr)  # keeps a running progress bar intact
