"""Experiments: each module reproduces one claim of the deep-learning literature with mathdl and
writes its table and plot (run as ``python -m mathdl.experiments.<name> --out DIR``).

* :mod:`mathdl.experiments.depth`: skip connections make very deep ReLU networks trainable.
"""

__all__ = ["depth"]
