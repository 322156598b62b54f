"""Knowledge distillation (Hinton, Vinyals & Dean 2015): train a student on a teacher's softened
outputs with mathdl's KD loss (:func:`mathdl.nn.functional.distillation_loss`)

    L = alpha T^2 KL(softmax(z_teacher / T) || softmax(z_student / T)) + (1 - alpha) CE(z_student, y).

The teacher's logits are computed once, in eval mode and without gradients, and stay fixed.
"""

from __future__ import annotations

import numpy as np

from .training import fit, logits_of

__all__ = ["distill"]


def distill(teacher, student, x, y, epochs=20, lr=1e-3, batch_size=64, temperature=4.0, alpha=0.9, seed=0):
    """Train ``student`` in place on (x, y) with the KD loss against ``teacher``; returns the mean
    loss per epoch."""
    import mathdl as md
    import mathdl.nn.functional as F

    if temperature <= 0:
        raise ValueError(f"distill: temperature must be positive, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"distill: alpha must be in [0, 1], got {alpha}")
    soft = logits_of(teacher, x)
    if soft.ndim != 2:
        raise ValueError(f"distill: the teacher must output (N, classes) logits, got shape {soft.shape}")
    soft = soft.astype(np.float32)

    def loss_fn(logits, target, idx):
        return F.distillation_loss(logits, md.tensor(soft[idx].astype(logits.dtype)), target,
                                   temperature=temperature, alpha=alpha)

    return fit(student, x, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, loss_fn=loss_fn)
