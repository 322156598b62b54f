"""``torch.backends.cudnn``: mathdl has no cuDNN path; the flags are kept, not acted on."""

from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: mathdl's GPU convolutions do not go through cuDNN."""
    return False


def version():
    return None
