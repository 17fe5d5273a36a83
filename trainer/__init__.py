"""Modality trainers, by --signal_type (imported on demand: audio and video pull in extra packages)."""
from components.signals import SIGNALS, signals_for

SIGNAL_TYPES = tuple(SIGNALS)


def trainer_class(signal_type):
    signals_for(signal_type)  # an unknown type is refused there, in one line
    if signal_type == "image":
        from trainer.img_trainer import ImageTrainer
        return ImageTrainer
    if signal_type == "audio":
        from trainer.audio_trainer import AudioTrainer
        return AudioTrainer
    from trainer.video_trainer import VideoTrainer
    return VideoTrainer
