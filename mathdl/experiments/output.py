"""Where an experiment's results go: its JSON record and its figures (matplotlib, headless).

Every experiment module writes the same two kinds of file into its output folder ``out``:
``<name>.json`` (its record: setup, measurement, numbers, verdict, figures; see
:mod:`mathdl.experiments.reproduce`) and PNG figures drawn with matplotlib's non-interactive Agg
backend (no display needed, so runs work on servers and in CI).
"""

from __future__ import annotations

import json
import os

__all__ = ["pyplot", "save_figure", "write_json"]


def pyplot():
    """matplotlib.pyplot on the headless Agg backend (imported on first use: plotting is optional
    work and matplotlib's import takes ~0.3 s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi=100):
    """Write ``fig`` to ``path`` as PNG at ``dpi``, close it (figures are not kept open across
    runs); returns the file's name (records list figures relative to their folder)."""
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return os.path.basename(path)


def write_json(out, name, obj, default=None):
    """Write ``obj`` as indented JSON to ``out/name`` (nothing when ``out`` is empty: in-memory
    runs); ``default`` converts values JSON does not know.  Returns the path or None."""
    if not out:
        return None
    path = os.path.join(out, name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, default=default)
    return path
