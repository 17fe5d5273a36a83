"""A real TensorBoard, started as a user starts it, asked over HTTP for what its Images tab shows.

    with TensorBoard(["--logdir", LOG, "--samples_per_plugin", "images=N"]) as tb:
        tb.images(run, tag)   # [(step, PNG bytes)] the Images tab would draw

The server listens on 127.0.0.1 on a port the system picks (`--port 0`); every wait is bounded.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

START_S = 120  # bound on TensorBoard's start-up and first load of the log folder (seconds)
POLL_S = 0.1  # between two asks of a server that is still loading: a poll, bounded by START_S
URL = re.compile(r"(http://127\.0\.0\.1:\d+)/")


class NotStarted(Exception):
    """TensorBoard could not start here (not installed, no loopback socket)."""


class TensorBoard:
    def __init__(self, options):
        exe = shutil.which("tensorboard")
        cmd = [exe] if exe else [sys.executable, "-m", "tensorboard.main"]
        self.cmd = [*cmd, *options, "--host", "127.0.0.1", "--port", "0"]
        self.proc, self.url, self.lines = None, None, []

    def __enter__(self):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        except OSError as e:
            raise NotStarted(str(e))
        found = threading.Event()

        def read():  # TensorBoard names its address on a line of its output
            for line in self.proc.stdout:
                self.lines.append(line)
                m = URL.search(line)
                if m and self.url is None:
                    self.url = m.group(1)
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(START_S) or self.url is None:
            self.__exit__()
            raise NotStarted("".join(self.lines[-5:]) or f"no address within {START_S} s")
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return False

    def get(self, route, **query):
        url = f"{self.url}{route}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.read()

    def image_tags(self, runs):
        """{run: [image tag]} once every run in `runs` is loaded (TensorBoard reads the folder after it
        starts listening); bounded by START_S."""
        deadline = time.monotonic() + START_S
        while True:
            tags = json.loads(self.get("/data/plugin/images/tags"))
            if all(run in tags and tags[run] for run in runs) or time.monotonic() > deadline:
                return {run: sorted(t) for run, t in tags.items()}
            time.sleep(POLL_S)

    def images(self, run, tag):
        """[(step, the image's bytes)] that the Images tab shows for one run's tag."""
        listed = json.loads(self.get("/data/plugin/images/images", run=run, tag=tag))
        return [(d["step"], self.get("/data/plugin/images/individualImage?" + d["query"])) for d in listed]
