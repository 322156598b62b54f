"""``mathdl.utils``: PyTorch's ``torch.utils`` names; ``mathdl.utils.data`` is :mod:`mathdl.data`."""

from . import data  # noqa: F401

__all__ = ["data"]
