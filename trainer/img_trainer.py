"""Image fitting (the paper's 2D experiments): (row, col) in [-1, 1]^2 -> C channel values."""
from components.metrics import image_metrics
from trainer.base_trainer import BaseTrainer


class ImageTrainer(BaseTrainer):
    @classmethod
    def evaluate(cls, recon, data, signal, lpips=None):
        return image_metrics(recon, data, signal.nominal.span, lpips)
