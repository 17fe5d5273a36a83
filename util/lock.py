"""One writer per folder: an advisory fcntl.flock on <folder>/.lock that a second process is refused
(naming the holder's pid, host and command). The kernel drops it when its holder exits, however it
exits. Without flock (some network mounts) the folder is written unguarded after a warning.
"""
import fcntl
import os
import socket
import sys
import time

from util.errors import UserError

LOCK_FILE = ".lock"


class FolderBusy(UserError):
    """Another process holds the folder's lock: a user's mistake (two writers), one line, exit 2."""


class FolderLock:
    def __init__(self, folder, what):
        self.folder, self.what = folder, what
        self.path = os.path.join(folder, LOCK_FILE)
        self.fd = None

    def acquire(self):
        # an ordinary file (the umask decides its mode): others may read who holds the folder
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise FolderBusy(f"{self.folder}: another process is writing this {self.what} ({holder}); wait for it "
                             f"to end or stop it first") from None
        except OSError as e:  # ENOLCK / EOPNOTSUPP: a file system without flock
            print(f"warning: {self.path}: cannot be locked ({e.strerror or e}); nothing stops a second writer",
                  file=sys.stderr)
        os.ftruncate(fd, 0)
        os.write(fd, holder_line().encode("utf-8", "replace"))
        self.fd = fd
        return self

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock; the file stays (unlinking it would race a waiter)
            self.fd = None

    def __enter__(self):
        return self.acquire() if self.fd is None else self

    def __exit__(self, *exc):
        self.release()
        return False


def hold(folder, what):
    """The lock of `folder` (which must exist), held: FolderBusy, naming the holder, if another has it."""
    return FolderLock(folder, what).acquire()


def writer(folder):
    """Who holds `folder`'s lock now (the holder's line), or None; reads only (a run being written)."""
    try:
        fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # dropped by the close below
        return None
    except BlockingIOError:
        return _read(fd)
    except OSError:  # a file system without flock: nothing to tell
        return None
    finally:
        os.close(fd)


def holder_line():
    cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300]
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    return f"pid {os.getpid()} on {socket.gethostname()} since {started}: {cmd}\n"


def _read(fd):
    try:
        text = os.pread(fd, 1000, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return " ".join(text.split()) or "holder unknown"
