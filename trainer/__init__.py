"""Fitting: the loop (loop.py, one for every modality: components/signals.py's MODALITIES says
what differs), the fused SIREN step (fast_step.py), a run's folder and resume (fit.py), checkpoints
(checkpoint.py) and decoding them (decode.py)."""
