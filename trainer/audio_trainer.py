"""Audio fitting (the paper's 1D experiments): t in [-1, 1] -> one value per channel.

Any file soundfile reads (FLAC, WAV, OGG ...); several channels are fitted as one signal with one
output each; other sample rates are resampled to 16 kHz; at most the first --audio_seconds are
used. The transforms see the waveform in [-1, 1] (nominal range 2). SIREN's audio defaults (first
omega 3000, hidden omega 30, 3 x 256) apply unless overridden. `--input_path builtin:chirp` is a
synthesised test signal (harmonics, a chirp and a little noise) that needs no download.
"""
import os
from fractions import Fraction

import numpy as np
import torch

from components.metrics import audio_metrics
from trainer.base_trainer import BaseTrainer, Signal
from util.io import AUDIO_EXTS, InputError, Nominal, atomic_write, list_samples, sample_name

RATE = 16000


def chirp(seconds=5.0, rate=RATE, seed=0):
    """Harmonics of 220 Hz under a slow tremolo, a 300 Hz -> 3 kHz chirp, and faint noise."""
    t = np.arange(int(seconds * rate)) / rate
    harm = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in (1, 2, 3, 5)) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    f0, f1 = 300.0, 3000.0
    sweep = np.sin(2 * np.pi * (f0 * t + (f1 - f0) / (2 * seconds) * t ** 2))
    noise = np.random.default_rng(seed).standard_normal(t.shape)
    x = 0.5 * harm / 2 + 0.3 * sweep + 0.02 * noise
    return (0.9 * x / np.abs(x).max())[:, None]


def read_audio(path, seconds, log=None):
    """(channels, samples) float32 in [-1, 1] at 16 kHz, at most `seconds` long."""
    import soundfile as sf

    if path.startswith("builtin:"):
        if path != "builtin:chirp":
            raise InputError(f"{path}: unknown built-in audio (valid: builtin:chirp)")
        return torch.from_numpy(chirp(seconds).T.astype(np.float32).copy()), "chirp"
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        wav, rate = sf.read(path, dtype="float64", always_2d=True)
    except Exception as e:
        raise InputError(f"{path}: cannot be read as audio ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    if wav.size == 0:
        raise InputError(f"{path}: holds no samples")
    if not np.isfinite(wav).all():
        raise InputError(f"{path}: holds NaN or infinite samples")
    if rate != RATE:
        from scipy.signal import resample_poly

        ratio = Fraction(RATE, rate).limit_denominator(1000)
        wav = resample_poly(wav, ratio.numerator, ratio.denominator, axis=0)
        if log:
            log(f"{path}: resampled from {rate} Hz to {RATE} Hz")
    wav = np.clip(wav[: int(round(seconds * RATE))], -1.0, 1.0)
    return torch.from_numpy(wav.T.astype(np.float32).copy()), sample_name(path)


class AudioTrainer(BaseTrainer):
    exts = AUDIO_EXTS

    @classmethod
    def list_samples(cls, path):
        return [path] if path.startswith("builtin:") else list_samples(path, cls.exts)

    @staticmethod
    def sample_name(path):
        return path.split(":", 1)[1] if path.startswith("builtin:") else sample_name(path)

    def model_defaults(self):
        return {"first_omega": 3000.0}

    def read(self, path):
        data, name = read_audio(path, self.args.audio_seconds, self.log)
        return Signal(name, data, Nominal.signal(), sample_rate=RATE)

    def peak(self, data):
        return data.abs().max()

    def evaluate(self, recon, data, signal):
        return audio_metrics(recon, data)

    def save_prediction(self, signal, recon):
        import soundfile as sf

        path = os.path.join(self.folder, "final_pred", f"{signal.name}.wav")
        wav = recon.detach().cpu().clamp(-1, 1).T.numpy()
        atomic_write(path, lambda f: sf.write(f, wav, RATE, format="WAV", subtype="PCM_16"), mode="wb")

    def log_target(self, signal, data):
        self.writer.add_audio(f"{signal.name}/target", data[:1].cpu().clamp(-1, 1), 0, sample_rate=RATE)

    def log_media(self, signal, epoch, recon, data):
        self.writer.add_audio(f"{signal.name}/reconstruction", recon[:1].cpu().clamp(-1, 1), epoch, sample_rate=RATE)
