"""One writer per folder: an advisory flock on <folder>/.lock, dropped by the kernel however its holder
exits; without flock (some network mounts) the folder is written unguarded after a warning."""
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
    """The lock of `folder` (which must exist), held: FolderBusy, naming the holder, if another has it."""

    def __init__(self, folder, what):
        # an ordinary file (the umask decides its mode): others may read who holds the folder
        self.fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(self.fd)
            os.close(self.fd)
            raise FolderBusy(f"{folder}: another process is writing this {what} ({holder}); wait for it "
                             f"to end or stop it first") from None
        except OSError as e:  # ENOLCK / EOPNOTSUPP: a file system without flock
            print(f"warning: {os.path.join(folder, LOCK_FILE)}: cannot be locked ({e.strerror or e}); nothing stops "
                  f"a second writer", file=sys.stderr)
        cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300]
        line = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}: {cmd}\n"
        os.ftruncate(self.fd, 0)
        os.write(self.fd, line.encode("utf-8", "replace"))

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock; the file stays (unlinking it would race a waiter)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False


hold = FolderLock


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


def _read(fd):
    try:
        text = os.pread(fd, 1000, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return " ".join(text.split()) or "holder unknown"
