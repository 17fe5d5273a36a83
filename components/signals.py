"""Signals on disk: read a path into a Signal (C, *grid, in its own units), list a folder's samples,
write a prediction and its TensorBoard media; one class per modality, and one record per modality
of what the loop needs (MODALITIES). builtin:chirp and builtin:astronaut_pan need no download.
"""
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import torch

from components.metrics import audio_metrics, image_metrics, video_metrics
from util.errors import InputError, OptionError
from util.io import (AUDIO_EXTS, IMAGE_EXTS, Nominal, atomic_write, list_samples, missing, read_frames,
                     read_image, sample_name, save_image, to_uint)
from util.tensorboard import error_map, error_scale


@dataclass
class Signal:
    """One sample: data (C, *grid) in its own units, its Nominal range, and what outputs need."""
    name: str
    data: torch.Tensor
    nominal: Nominal
    meta: dict = field(default_factory=dict)


class ImageSignals:
    """Images of any bit depth and channel count: (C, H, W)."""

    def list_samples(self, path, log=None):
        return list_samples(path, IMAGE_EXTS, log)

    def sample_name(self, path):
        return sample_name(path)

    def read(self, path, opts, log=None):
        data, nominal = read_image(path)
        return Signal(sample_name(path), data, nominal)

    def save_prediction(self, folder, signal, recon, log=None):
        save_image(os.path.join(folder, "final_pred", f"{signal.name}.png"), recon, signal.nominal)

    def log_target(self, writer, signal, data):
        writer.add_image(f"{signal.name}/target", signal.nominal.unit(data), 0)

    def error_scale(self, signal):
        """The top of the sample's error-map scale: from its nominal range, the same in every run."""
        return error_scale(signal.nominal.span)

    def log_media(self, writer, signal, epoch, recon, data, psnr=None):
        writer.add_image(f"{signal.name}/reconstruction", signal.nominal.unit(recon), epoch)
        err = (recon - data).abs().mean(0).cpu()  # in intensity levels, the mean over channels
        # one tag for every epoch (one card with a step slider); the maximum is a scalar of its own
        writer.add_image(f"{signal.name}/abs_error", error_map(err, self.error_scale(signal), "levels", psnr), epoch)
        writer.add_scalar(f"{signal.name}/eval/abs_error_max", float(err.max()), global_step=epoch)


# ---- audio -----------------------------------------------------------------------------------------

RATE = 16000
MIN_RATE, MAX_RATE = 1000, 1_000_000  # the rates of audio files (a telephone's 8 kHz, a bat detector's 500 kHz)
MAX_CHANNELS = 64  # a 7th-order ambisonic recording; more is a broken header


def chirp(seconds=5.0, rate=RATE, seed=0):
    """Harmonics of 220 Hz under a slow tremolo, a 300 Hz -> 3 kHz chirp, and faint noise: (T, 1)."""
    t = np.arange(int(seconds * rate)) / rate
    harm = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in (1, 2, 3, 5)) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    f0, f1 = 300.0, 3000.0
    sweep = np.sin(2 * np.pi * (f0 * t + (f1 - f0) / (2 * seconds) * t ** 2))
    noise = np.random.default_rng(seed).standard_normal(t.shape)
    x = 0.5 * harm / 2 + 0.3 * sweep + 0.02 * noise
    return (0.9 * x / np.abs(x).max())[:, None]


def read_audio(path, seconds, log=None):
    """(channels, samples) float32 in [-1, 1] at 16 kHz, at most `seconds` long, and a name. Everything
    downstream assumes [-1, 1], so a float file beyond it is refused: clipping would fit another signal."""
    import soundfile as sf

    if path.startswith("builtin:"):
        if path != "builtin:chirp":
            raise InputError(f"{path}: unknown built-in audio (valid: builtin:chirp)")
        return torch.from_numpy(chirp(seconds).T.astype(np.float32).copy()), "chirp"
    if not os.path.isfile(path):
        raise missing(path, "file")
    try:
        with sf.SoundFile(path) as f:
            # the header is checked before anything is read: a broken one (1 Hz, 2e9 Hz) would resample
            # garbage or ask for gigabytes
            rate = f.samplerate
            if not MIN_RATE <= rate <= MAX_RATE:
                raise InputError(f"{path}: its header says {rate} Hz, outside the {MIN_RATE} Hz to "
                                 f"{MAX_RATE // 1000} kHz of audio files; write it again with its true rate")
            if f.channels > MAX_CHANNELS:
                raise InputError(f"{path}: its header says {f.channels} channels; audio here has 1 to {MAX_CHANNELS}")
            ratio = Fraction(RATE, rate).limit_denominator(1000)
            # only the seconds kept and the resampling filter's reach past them (resample_poly's half length):
            # the same samples as resampling the whole file, in memory that the clip bounds
            wav = f.read(math.ceil(seconds * rate) + 10 * max(ratio.numerator, ratio.denominator) // ratio.numerator
                         + 1, dtype="float64", always_2d=True)
    except MemoryError:
        raise InputError(f"{path}: {seconds:g} s of it do not fit in memory; fit a shorter clip with a smaller "
                         f"--audio_seconds") from None
    except InputError:
        raise
    except Exception as e:  # soundfile raises several types for a foreign or corrupt file
        raise InputError(f"{path}: cannot be read as audio ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    if wav.size == 0:
        raise InputError(f"{path}: holds no samples")
    if not np.isfinite(wav).all():
        raise InputError(f"{path}: holds NaN or infinite samples")
    peak = float(np.abs(wav).max())
    if peak > 1.0:
        raise InputError(f"{path}: its samples reach {peak:g}, beyond [-1, 1], the range audio is fitted in; "
                         f"scale the file into [-1, 1] (divide it by {peak:g})")
    if rate != RATE:
        from scipy.signal import resample_poly

        wav = resample_poly(wav, ratio.numerator, ratio.denominator, axis=0)
        if log:
            log(f"{path}: resampled from {rate} Hz to {RATE} Hz")
    # only resampling's ringing (a few thousandths past full scale) is clipped here: the file is in [-1, 1]
    wav = np.clip(wav[: int(round(seconds * RATE))], -1.0, 1.0)
    if wav.shape[0] < 2:
        raise InputError(f"{path}: {wav.shape[0]} sample(s) at {RATE} Hz; a signal to fit needs at least 2")
    return torch.from_numpy(wav.T.astype(np.float32).copy()), sample_name(path)


class AudioSignals:
    """Any file soundfile reads, resampled to 16 kHz, the first --audio_seconds: (C, T) in [-1, 1]."""
    error_scale = staticmethod(lambda signal: None)  # no error map

    def list_samples(self, path, log=None):
        return [path] if path.startswith("builtin:") else list_samples(path, AUDIO_EXTS, log)

    def sample_name(self, path):
        return path.split(":", 1)[1] if path.startswith("builtin:") else sample_name(path)

    def read(self, path, opts, log=None):
        data, name = read_audio(path, opts["audio_seconds"], log)
        return Signal(name, data, Nominal.signal(), {"sample_rate": RATE})

    def save_prediction(self, folder, signal, recon, log=None):
        import soundfile as sf

        path = os.path.join(folder, "final_pred", f"{signal.name}.wav")
        wav = recon.detach().cpu().clamp(-1, 1).T.numpy()
        atomic_write(path, lambda f: sf.write(f, wav, RATE, format="WAV", subtype="PCM_16"), mode="wb")

    def log_target(self, writer, signal, data):
        writer.add_audio(f"{signal.name}/target", data[:1].cpu().clamp(-1, 1), 0, sample_rate=RATE)

    def log_media(self, writer, signal, epoch, recon, data, psnr=None):
        writer.add_audio(f"{signal.name}/reconstruction", recon[:1].cpu().clamp(-1, 1), epoch, sample_rate=RATE)


# ---- video -----------------------------------------------------------------------------------------

PREVIEW_FRAMES = 3


def astronaut_pan(frames=24, size=48):
    """A size x size window panning diagonally across a downscaled astronaut: (frames, H, W, 3) uint8."""
    from skimage import data
    from skimage.transform import resize

    big = resize(data.astronaut(), (2 * size, 2 * size), anti_aliasing=True, preserve_range=True)
    steps = np.linspace(0, size, frames).round().astype(int)
    return np.stack([big[s:s + size, s:s + size] for s in steps]).round().astype(np.uint8)


def read_video(path, log=None):
    """(C, F, H, W) float32 in the frames' own range, its Nominal range and a name."""
    if path.startswith("builtin:"):
        if path != "builtin:astronaut_pan":
            raise InputError(f"{path}: unknown built-in video (valid: builtin:astronaut_pan)")
        arr = astronaut_pan()
        return torch.from_numpy(arr.astype(np.float32)).permute(3, 0, 1, 2).contiguous(), Nominal(0, 255, 256), \
            "astronaut_pan"
    if os.path.isdir(path):
        frames = [read_image(f) for f in list_samples(path, IMAGE_EXTS, log)]
        shapes = {tuple(f.shape) for f, _ in frames}
        if len(shapes) != 1:
            raise InputError(f"{path}: frames differ in shape ({', '.join(map(str, sorted(shapes)))})")
        if len({n.levels for _, n in frames}) != 1:
            raise InputError(f"{path}: frames differ in bit depth (8- and 16-bit); convert them to one")
        data, nominal = torch.stack([f for f, _ in frames], dim=1), frames[0][1]
        name = os.path.basename(os.path.normpath(path))
    elif not os.path.isfile(path):
        raise missing(path)
    else:
        arr = read_frames(path) if os.path.splitext(path)[1].lower() in IMAGE_EXTS else _read_video_file(path)
        data = torch.from_numpy(arr.astype(np.float32)).permute(3, 0, 1, 2).contiguous()
        nominal, name = Nominal.for_dtype(arr.dtype), os.path.splitext(os.path.basename(path))[0]
    if data.shape[1] < 2:
        raise InputError(f"{path}: a single picture (one frame), not a video; give a video file, an animation "
                         f"or a folder of frames")
    return data, nominal, name


def _read_video_file(path):
    """(F, H, W, C) of a file that imageio reads as a video (its plugins for video formats)."""
    try:
        import imageio.v3 as iio

        arr = np.asarray(iio.imread(path))
    except Exception as e:  # imageio raises many types for a foreign or corrupt file
        raise InputError(f"{path}: cannot be read as a video ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}); a folder of frames always works")
    if arr.ndim != 4 or arr.dtype not in (np.uint8, np.uint16):  # (frames, H, W, C): nothing to guess
        raise InputError(f"{path}: unsupported video layout {arr.shape} {arr.dtype}")
    return arr


def _preview(video):
    idx = np.linspace(0, video.shape[1] - 1, min(PREVIEW_FRAMES, video.shape[1])).round().astype(int)
    return [(int(i), video[:, i]) for i in idx]


class VideoSignals:
    """A folder of frames (natural order), an animated GIF / WebP / PNG or multi-page TIFF, a video file
    imageio reads, or builtin:astronaut_pan."""
    error_scale = staticmethod(lambda signal: None)  # no error map

    def list_samples(self, path, log=None):
        if not path.startswith("builtin:") and not os.path.exists(path):
            raise missing(path)
        return [path]  # one video, even when it is a folder of frames

    def sample_name(self, path):
        if path.startswith("builtin:"):
            return path.split(":", 1)[1]
        return os.path.splitext(os.path.basename(os.path.normpath(path)))[0]

    def read(self, path, opts, log=None):
        data, nominal, name = read_video(path, log)
        return Signal(name, data, nominal)

    def save_prediction(self, folder, signal, recon, log=None):
        out = os.path.join(folder, "final_pred", signal.name)
        for f in range(recon.shape[1]):
            save_image(os.path.join(out, f"frame_{f:04d}.png"), recon[:, f], signal.nominal)
        frames = np.stack([to_uint(recon[:, f], signal.nominal) for f in range(recon.shape[1])])
        if frames.dtype == np.uint8:
            import imageio.v2 as imageio

            gif = os.path.join(folder, "final_pred", f"{signal.name}.gif")
            try:
                atomic_write(gif, lambda fh: imageio.mimwrite(fh, frames, format=".gif", duration=40), mode="wb")
            except Exception as e:  # the frames are written; the animation is a convenience
                if log:
                    log(f"note: no animated preview ({type(e).__name__})")

    def log_target(self, writer, signal, data):
        for i, frame in _preview(data):
            writer.add_image(f"{signal.name}/target/frame_{i}", signal.nominal.unit(frame), 0)

    def log_media(self, writer, signal, epoch, recon, data, psnr=None):
        for i, frame in _preview(recon):
            writer.add_image(f"{signal.name}/reconstruction/frame_{i}", signal.nominal.unit(frame), epoch)


# ---- the modalities: one record each ---------------------------------------------------------------

VIDEO_MIN_BATCH = 4096  # the reference's video batch, the least that a derived one takes


def _image_metrics(recon, data, signal, lpips=None):
    return image_metrics(recon, data, signal.nominal.span, lpips)


def _audio_metrics(recon, data, signal, lpips=None):
    return audio_metrics(recon, data)


def _video_metrics(recon, data, signal, lpips=None):
    return video_metrics(recon, data, signal.nominal.span)


def _data_max(ref):
    return ref.max()


def _abs_max(ref):
    return ref.abs().max()


def _full_batch(batch_size, n):
    return n  # the reference's full batch: --batch_size is video's option


def _video_batch(batch_size, n):
    """--batch_size as given; None (derived) is 1/16 of all pixels, at least VIDEO_MIN_BATCH."""
    return min(batch_size if batch_size is not None else max(VIDEO_MIN_BATCH, n // 16), n)


class Modality(NamedTuple):
    """Everything that differs between images, audio and video: the files (`io`: listing, reading,
    writing a prediction, TensorBoard media) and what the fitting loop needs (trainer/loop.py)."""
    name: str
    io: object  # ImageSignals, AudioSignals or VideoSignals
    evaluate: object  # (recon, data, signal, lpips) -> metrics; both (C, *grid) in the signal's units
    peak: object  # the data rows -> the peak of the per-step PSNR
    batch: object  # (--batch_size or None, n coordinates) -> coordinates per step
    uses_batch_size: bool  # --batch_size applies (and, left None, is derived from the data and recorded)
    defaults: dict  # backbone options it sets where the user left None, over models.py's (opt.resolve)


MODALITIES = {
    "image": Modality("image", ImageSignals(), _image_metrics, _data_max, _full_batch, False, {}),
    # SIREN's audio setting: a first layer of omega 3000 for a 16 kHz waveform on t in [-1, 1]
    "audio": Modality("audio", AudioSignals(), _audio_metrics, _abs_max, _full_batch, False, {"first_omega": 3000.0}),
    # one Adam step on a random batch of coordinates per epoch; evaluation on the full grid
    "video": Modality("video", VideoSignals(), _video_metrics, _data_max, _video_batch, True, {}),
}


def modality(signal_type):
    if signal_type not in MODALITIES:
        raise OptionError(f"unknown signal type '{signal_type}' (valid: {', '.join(MODALITIES)})")
    return MODALITIES[signal_type]
