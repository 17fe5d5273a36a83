"""Reading signals from disk (a user's mistake is an InputError naming the file and the problem) and
writing results so that a crash never leaves half a file."""
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
    """A signal's nominal range [lo, hi]; `levels` is the full scale N that length-like hyper-parameters
    scale with: 256 for 8-bit images (the reference), 65536 for 16-bit ones, 2 for signals in [-1, 1]."""

    def __init__(self, lo, hi, levels):
        self.lo, self.hi, self.levels = float(lo), float(hi), float(levels)

    @classmethod
    def for_dtype(cls, dtype):
        if dtype not in (np.uint8, np.uint16):
            raise InputError(f"unsupported sample type {dtype} (8-bit or 16-bit images only)")
        return cls(0, np.iinfo(dtype).max, np.iinfo(dtype).max + 1)

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
    msg, absolute = f"{path}: no such {what}", os.path.abspath(path)
    under_root = absolute.startswith(os.path.join(ROOT, "data") + os.sep)
    rel = (os.path.relpath(absolute, ROOT) if under_root else os.path.normpath(path)).replace(os.sep, "/")
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


def list_samples(path, exts, log=None):
    """Files of a folder with one of `exts`, naturally sorted; a note to `log` (or stderr) on the others."""
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
        (log or (lambda m: print(m, file=sys.stderr)))(note)
    if not keep:
        raise InputError(f"{path}: folder holds no {'/'.join(sorted(exts))} file")
    seen = {}
    for n in keep:  # a.png and a.jpg (or a.PNG) would be one sample, a.wav and a.flac one record
        first = seen.setdefault(sample_name(n), n)
        if first != n:
            raise InputError(f"{path}: {first} and {n} would both be sample '{sample_name(n)}'; rename or move one")
    return [os.path.join(path, n) for n in keep]


def safe_name(name, fallback="signal"):
    """A name from a checkpoint or a log (data, never a path) as one file name, never '..' or a hidden one."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).lstrip(".")
    return cleaned or fallback


def sample_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def read_image(path):
    """(float32 (C, H, W) in the image's own integer range, its Nominal) of one still image (read_frames);
    an animation or a stack of pages is refused (it is a video)."""
    frames = read_frames(path)
    if frames.shape[0] > 1:
        raise InputError(f"{path}: {frames.shape[0]} frames (an animation or a stack of pages), not one image; "
                         f"main.py fits it as a video with --signal_type video")
    import torch  # here, not at the top: run.py writes its files through this module without loading torch

    return torch.from_numpy(frames[0].astype(np.float32)).permute(2, 0, 1).contiguous(), Nominal.for_dtype(frames.dtype)


# Pillow's modes -> the gray or RGB mode (with alpha where the file has one) read from it; others are refused
MODES = {**{m: m for m in ("L", "LA", "RGB", "RGBA", "I;16", "I;16L", "I;16B", "I;16N")},
         "1": "L", "P": "RGB", "PA": "RGBA", "La": "LA", "RGBa": "RGBA", "RGBX": "RGB"}
REFUSED_MODES = {"CMYK": "a CMYK image", "YCbCr": "a YCbCr image", "LAB": "a CIELAB image", "HSV": "an HSV image",
                 "I": "32-bit integer pixels", "F": "32-bit float pixels"}
ORIENT = {2: lambda a: a[:, :, ::-1], 3: lambda a: a[:, ::-1, ::-1], 4: lambda a: a[:, ::-1],  # EXIF's 8 values
          5: lambda a: a.transpose(0, 2, 1, 3), 6: lambda a: np.rot90(a, -1, axes=(1, 2)),
          7: lambda a: np.rot90(a, 2, axes=(1, 2)).transpose(0, 2, 1, 3), 8: lambda a: np.rot90(a, 1, axes=(1, 2))}


def read_frames(path):
    """Every frame of an image file (several for an animated GIF / WebP / PNG or a multi-page TIFF) as
    (F, H, W, C) uint8 or uint16, upright, C in 1..4 (gray, RGB, with alpha where the file has it)."""
    if os.path.isdir(path):
        raise InputError(f"{path}: a folder, not an image file")
    if not os.path.isfile(path):
        raise missing(path, "file")
    try:
        arr, orientation = _read_deep_tiff(path) or _read_with_pillow(path)
    except InputError:
        raise
    except Exception as e:  # the decoders raise many types for a corrupt or foreign file
        raise InputError(f"{path}: cannot be read as an image ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt'})")
    if arr.dtype.kind != "u" or arr.dtype.itemsize > 2:
        raise InputError(f"{path}: unsupported pixel type {arr.dtype} (8- or 16-bit unsigned only)")
    if not 1 <= arr.shape[3] <= 4:
        raise InputError(f"{path}: {arr.shape[3]} channels; images have 1 to 4 (gray, gray + alpha, RGB, RGBA)")
    arr = arr.astype(np.uint8 if arr.dtype.itemsize == 1 else np.uint16)  # native order (a big-endian TIFF)
    return np.ascontiguousarray(ORIENT.get(orientation, lambda a: a)(arr))


def _read_with_pillow(path):
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's notes on odd metadata; a decompression bomb still raises
        with Image.open(path) as im:
            # a camera's MPO JPEG holds previews (or a stereo pair's other eye) after its one picture
            count = 1 if im.format == "MPO" else getattr(im, "n_frames", 1)
            orientation = im.getexif().get(0x0112, 1)
            if _png_bit_depth(path) == 16:  # Pillow would truncate 16-bit colour PNGs to 8 bits
                if count > 1:
                    raise InputError(f"{path}: a 16-bit animated PNG, whose frames cannot be read at 16 bits; "
                                     f"give its frames as a folder of PNG files")
                return _read_png16(path)[None], orientation
            frames = []
            for i in range(count):
                im.seek(i)
                frames.append(_plain(im, path))
    if len({f.size for f in frames}) > 1:  # a TIFF's thumbnail or pyramid level is no frame of the same picture
        raise InputError(f"{path}: its {count} frames (pages) differ in size; save the one you mean on its own")
    if len({f.mode for f in frames}) > 1:  # a GIF's later frames may be RGB(A) after a palette first one
        if any(f.mode.startswith("I;16") for f in frames):
            raise InputError(f"{path}: frames differ in bit depth (8- and 16-bit); convert them to one")
        mode = "RGBA" if any(f.mode in ("LA", "RGBA") for f in frames) else "RGB"
        frames = [f.convert(mode) for f in frames]
    return np.stack([np.asarray(f).reshape(f.height, f.width, -1) for f in frames]), orientation


def _plain(im, path):
    """The current frame in its mode of MODES, with alpha where info["transparency"] makes a colour clear."""
    if im.mode not in MODES:
        raise InputError(f"{path}: {REFUSED_MODES.get(im.mode, f'pixel mode {im.mode}')}; the signals here are gray "
                         f"or RGB (with alpha) of 8 or 16 bits: convert it to one of those")
    mode = MODES[im.mode]
    return im.convert(mode + "A" if "transparency" in im.info and mode in ("L", "RGB") else mode)


def _read_deep_tiff(path):
    """(frames, orientation) of a TIFF that Pillow would misread: 16-bit colour (truncated to 8 bits) or
    more than 4 samples (not opened); None for any other file."""
    with open(path, "rb") as f:
        if f.read(4) not in (b"II*\x00", b"MM\x00*"):
            return None
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page, series = tif.pages[0], tif.series[0]
        if page.samplesperpixel <= 4 and (page.samplesperpixel == 1 or page.bitspersample <= 8):
            return None
        if page.photometric.name not in ("MINISBLACK", "RGB"):
            raise InputError(f"{path}: a TIFF of photometric {page.photometric.name}; the signals here are gray "
                             f"or RGB (with alpha) of 8 or 16 bits: convert it to one of those")
        arr, axes, orientation = series.asarray(), series.axes, page.tags.valueof(0x0112, 1)
    arr = np.moveaxis(arr, axes.index("S"), -1)  # samples last, whichever the planar configuration
    return arr.reshape(-1, *arr.shape[-3:]), orientation


def _png_bit_depth(path):
    with open(path, "rb") as f:
        head = f.read(26)
    return head[24] if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 26 else None


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
    Its mode is an ordinary write's (0666 less the umask): others may read a run as the umask allows."""
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
    """Write a file the user named (--json, --plot ...): a regular or new file (a symlink's target) atomically,
    a character device or a pipe (a FIFO, /dev/fd/N) written into from memory, never renamed over; the file
    this process's stdout or stderr is open on (/dev/stdout, a shell's `>` or `>>`) through that descriptor,
    after what was printed."""
    try:
        st = os.stat(path)  # through links, /dev/stdout's and /dev/fd/N's too (realpath names no file for a pipe)
    except FileNotFoundError:
        st = None
    fd = next((fd for fd in (1, 2) if st is not None and _open_on(fd, st)), None)
    if fd is None and (st is None or stat.S_ISREG(st.st_mode)):
        return atomic_write(os.path.realpath(path), write_fn, mode)
    if fd is None and not (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "a block device" if stat.S_ISBLK(st.st_mode) else "a socket"
        raise InputError(f"{path}: {what}, not a file to write; name a file, a character device or a pipe")
    import io

    buffer = io.BytesIO() if "b" in mode else io.StringIO()
    write_fn(buffer)
    sys.stdout.flush()
    sys.stderr.flush()
    # a pipe blocks here until it has a reader, as a shell's `>` does; a duplicate of stdout's descriptor keeps
    # the shell's position and append mode
    with open(path if fd is None else os.dup(fd), mode) as f:
        f.write(buffer.getvalue())


def _open_on(fd, st):
    """Whether descriptor `fd` is open on the file `st` describes."""
    try:
        return os.path.samestat(st, os.fstat(fd))
    except OSError:  # closed
        return False


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
