"""Audio fitting (the paper's 1D experiments): t in [-1, 1] -> one value per channel.

Several channels are fitted as one signal with one output each (reading: components/signals.py).
SIREN's audio defaults (first omega 3000, hidden omega 30, 3 x 256) apply unless overridden.
Metrics: mse (transformed domain), SNR, SI-SNR and PSNR with the peak max |s|.
"""
from components.metrics import audio_metrics
from trainer.base_trainer import BaseTrainer


class AudioTrainer(BaseTrainer):
    @classmethod
    def model_defaults(cls):
        return {"first_omega": 3000.0}

    @staticmethod
    def peak(ref):
        return ref.abs().max()

    @classmethod
    def evaluate(cls, recon, data, signal, lpips=None):
        return audio_metrics(recon, data)
