"""Reading signals from disk and writing results so that a crash never leaves half a file.

Every reader turns a user mistake (missing file, unreadable image, NaN in audio ...) into an
InputError whose message names the file and the problem; main.py prints it as one line.
"""
import json
import os
import re
import sys
import secrets
import stat
import warnings

import imageio.v2 as imageio
import numpy as np

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"}
AUDIO_EXTS = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}


from util.errors import InputError  # noqa: F401  (readers raise it; callers import it from here too)


class Nominal:
    """The nominal value range of a signal: [lo, hi] with `levels` quantisation levels.

    `levels` is the full-scale range N that length-like hyper-parameters scale with:
    256 for 8-bit images (the reference), 65536 for 16-bit images, 2 for signals in [-1, 1].
    """

    def __init__(self, lo, hi, levels):
        self.lo, self.hi, self.levels = float(lo), float(hi), float(levels)

    @classmethod
    def for_dtype(cls, dtype):
        if dtype == np.uint8:
            return cls(0, 255, 256)
        if dtype == np.uint16:
            return cls(0, 65535, 65536)
        raise InputError(f"unsupported sample type {dtype} (8-bit or 16-bit images only)")

    @classmethod
    def signal(cls):
        return cls(-1, 1, 2)

    @property
    def span(self):
        return self.hi - self.lo

    def unit(self, x):
        """Values mapped to [0, 1] (for pictures), on the CPU."""
        return ((x - self.lo) / self.span).clamp(0, 1).cpu()

    def as_dict(self):
        return {"lo": self.lo, "hi": self.hi, "levels": self.levels}

    @classmethod
    def from_dict(cls, d):
        return cls(d["lo"], d["hi"], d["levels"])


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def missing(path, what="file or folder"):
    """The InputError for a path that does not exist; for one under data/ that data/manifest.json
    knows, it names the command that downloads it."""
    msg = f"{path}: no such {what}"
    rel = os.path.normpath(path).replace(os.sep, "/")
    absolute = os.path.abspath(path)
    if absolute.startswith(os.path.join(ROOT, "data") + os.sep):
        rel = os.path.relpath(absolute, ROOT).replace(os.sep, "/")
    if rel.startswith("data/"):
        rel = rel[len("data/"):]
        try:
            with open(os.path.join(ROOT, "data", "manifest.json")) as f:
                sets = json.load(f)["sets"]
        except (OSError, ValueError, KeyError):
            sets = {}
        known = [name for name, prefixes in sets.items()
                 if any((rel + "/").startswith(p) or p.startswith(rel + "/") for p in prefixes)]
        if known:
            msg += f"; fetch it with: python data/download.py {known[0]}"
    return InputError(msg)


def natural_key(name):
    """Sort key that orders 2.png before 10.png and still accepts img_a.png."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", name)]


def _stderr(msg):
    print(msg, file=sys.stderr)


def list_samples(path, exts, log=None):
    """Files of a folder with one of `exts`, naturally sorted; the others are skipped, with a note to
    `log` (a run's logger; standard error without one)."""
    if not os.path.exists(path):
        raise missing(path)
    if not os.path.isdir(path):
        return [path]
    names = sorted((n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n))), key=natural_key)
    for n in names:  # a name that is not UTF-8 could not be written into the run's log and tables
        try:
            n.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"{path}: file name {n.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8; "
                             f"rename it") from None
    keep = [n for n in names if os.path.splitext(n)[1].lower() in exts]
    skipped = [n for n in names if n not in keep and not n.startswith(".")]
    if skipped:
        note = (f"note: {path}: skipping {len(skipped)} file(s) of another type: {', '.join(skipped[:5])}"
                + (" ..." if len(skipped) > 5 else ""))
        (log or _stderr)(note)
    if not keep:
        raise InputError(f"{path}: folder holds no {'/'.join(sorted(exts))} file")
    return [os.path.join(path, n) for n in keep]


def safe_name(name, fallback="signal"):
    """A name from a checkpoint or a log (data, never a path) as one safe file name: letters, digits,
    '.', '_' and '-' kept, anything else '_', no leading dots (so never '..' or a hidden file)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).lstrip(".")
    return cleaned or fallback


def sample_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def read_image(path):
    """Image as a float32 tensor (C, H, W) in its own integer range, plus its Nominal range.

    Grayscale gives C = 1, RGBA C = 4; palette images are expanded to their colours; 16-bit
    images keep their 16-bit values.
    """
    if os.path.isdir(path):
        raise InputError(f"{path}: a folder, not an image file")
    if not os.path.isfile(path):
        raise missing(path, "file")
    try:
        if _png_bit_depth(path) == 16:
            img = _read_png16(path)  # Pillow would truncate 16-bit colour PNGs to 8 bits
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                img = np.asarray(imageio.imread(path))
    except Exception as e:  # imageio raises many types for a corrupt or foreign file
        raise InputError(f"{path}: cannot be read as an image ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt'})")
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.dtype not in (np.uint8, np.uint16):
        if np.issubdtype(img.dtype, np.integer) and img.min() >= 0 and img.max() <= 65535:
            img = img.astype(np.uint16 if img.max() > 255 else np.uint8)
        else:
            raise InputError(f"{path}: unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.size == 0:
        raise InputError(f"{path}: unsupported image shape {img.shape}")
    if not 1 <= img.shape[2] <= 4:
        raise InputError(f"{path}: {img.shape[2]} channels; images have 1 to 4 (gray, gray + alpha, RGB, RGBA)")
    import torch  # here, not at the top: run.py writes its files through this module without loading torch

    nominal = Nominal.for_dtype(img.dtype)
    data = torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1).contiguous()
    return data, nominal


def _png_bit_depth(path):
    with open(path, "rb") as f:
        head = f.read(26)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or len(head) < 26:
        return None
    return head[24]


def _read_png16(path):
    import png  # pypng: exact 16-bit PNG in both directions

    w, h, rows, info = png.Reader(filename=path).asDirect()
    return np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, info["planes"])


def _write_png16(f, arr):
    import png

    h, w = arr.shape[:2]
    planes = 1 if arr.ndim == 2 else arr.shape[2]
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[planes] + ";16"
    png.from_array(arr.reshape(h, w * planes), mode).write(f)


def to_uint(img_chw, nominal):
    """(C, H, W) float in the nominal range -> H x W x C integer array for saving."""
    dtype = np.uint16 if nominal.levels > 256 else np.uint8
    arr = img_chw.detach().cpu().clamp(nominal.lo, nominal.hi).round().permute(1, 2, 0).numpy().astype(dtype)
    return arr[:, :, 0] if arr.shape[2] == 1 else arr


def atomic_write(path, write_fn, mode="w"):
    """Write through a temporary file in the same folder, then rename: readers see old or new, never half.
    The file gets the permissions an ordinary write would give (0666 less the umask, the kernel applies
    it), so that others on a shared machine may read, resume and summarise a run as the umask allows."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = _new_temp(folder, os.path.basename(path))
    try:
        with os.fdopen(fd, mode) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename in (None, tmp):
            # a failed write (a full disk) or rename (onto a folder) names the user's file, not our temporary
            e.filename, e.filename2 = path, None
        raise


def write_output(path, write_fn, mode="w"):
    """Write a file the user named (--json, --plot ...) as a user expects: a regular file (or a new one)
    atomically, a symlink through to its target (atomically there), a character device or a pipe
    (/dev/stdout, a FIFO) written into, never replaced by a rename; anything else refused in one line.
    The content is made in memory first, so a failing writer leaves a device or pipe untouched."""
    target = os.path.realpath(path)
    try:
        kind = os.stat(target).st_mode
    except FileNotFoundError:
        kind = None
    if kind is None or stat.S_ISREG(kind):
        return atomic_write(target, write_fn, mode)
    if not (stat.S_ISCHR(kind) or stat.S_ISFIFO(kind)):
        what = "a folder" if stat.S_ISDIR(kind) else "a block device" if stat.S_ISBLK(kind) else "a socket"
        raise InputError(f"{path}: {what}, not a file to write; name a file, a character device or a pipe")
    import io

    buffer = io.BytesIO() if "b" in mode else io.StringIO()
    write_fn(buffer)
    with open(target, mode) as f:  # a pipe blocks here until it has a reader, as a shell's `>` does
        f.write(buffer.getvalue())


def _new_temp(folder, name):
    """A new hidden file beside `name` (never one that exists), opened for writing: (fd, path)."""
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free temporary name for {name}")


def write_json(path, obj):
    atomic_write(path, lambda f: json.dump(obj, f, indent=1, allow_nan=False))


def write_text(path, text):
    atomic_write(path, lambda f: f.write(text))


def save_image(path, img_chw, nominal):
    arr = to_uint(img_chw, nominal)
    if arr.dtype == np.uint16:
        atomic_write(path, lambda f: _write_png16(f, arr), mode="wb")
    else:
        atomic_write(path, lambda f: imageio.imwrite(f, arr, format=os.path.splitext(path)[1] or ".png"), mode="wb")


def torch_save(path, obj):
    """torch.save through memory: on a full disk torch's zip writer turns the OSError into a RuntimeError
    of its own; written from a buffer, the OSError (one line, "No space left on device") is what stops."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()), mode="wb")
