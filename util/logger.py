"""A run's text log: every line goes to <run>/log.txt and to standard error (never standard output,
which carries machine-readable results)."""
import datetime
import os
import re
import sys

from tqdm import tqdm

# main.py announces its run folder in this line; run.py and util/launch.py read it back.
_RUN_FOLDER_RE = re.compile(r"run folder (.+) on (\S+?)( \(resumed\))?$")


def run_folder_line(folder, device, resumed):
    return f"run folder {folder} on {device}" + (" (resumed)" if resumed else "")


def run_folder_in(line):
    """The run folder a log line announces, or None."""
    m = _RUN_FOLDER_RE.search(line.rstrip("\n"))
    return m.group(1) if m else None


class Logger:
    def __init__(self, folder=None, echo=True):
        self.path = os.path.join(folder, "log.txt") if folder else None
        self.echo = echo

    def __call__(self, msg, level="INFO"):
        line = f"{datetime.datetime.now().strftime('%H:%M:%S')} {level} {msg}"
        if self.path:
            with open(self.path, "a") as f:
                f.write(line + "\n")
        if self.echo:
            tqdm.write(line, file=sys.stderr)  # keeps a running progress bar intact
