"""``mathdl.jit``: PyTorch's TorchScript entry points, for programs that decorate with them.

mathdl has no TorchScript compiler: ``script`` and ``trace`` return the module or function
itself (``trace`` runs it once on the example inputs, so shape errors still surface there),
``ignore``/``unused``/``export`` are identity decorators, ``is_scripting()`` is False.  Saving a
scripted program is refused: use ``mathdl.save(model.state_dict(), path)``.
"""

from __future__ import annotations

__all__ = ["script", "trace", "ignore", "unused", "export", "is_scripting", "is_tracing", "save", "load"]


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    if not callable(obj):
        raise TypeError(f"jit.script: expected a module or a function, got {type(obj).__name__}")
    return obj


def trace(func, example_inputs=None, *args, **kwargs):
    if not callable(func):
        raise TypeError(f"jit.trace: expected a module or a function, got {type(func).__name__}")
    if example_inputs is not None:
        func(*example_inputs) if isinstance(example_inputs, tuple) else func(example_inputs)
    return func


def ignore(fn=None, **kwargs):
    return (lambda f: f) if fn is None else fn


unused = export = ignore


def is_scripting() -> bool:
    return False


def is_tracing() -> bool:
    return False


def save(m, f, **kwargs):
    raise RuntimeError("jit.save: mathdl has no TorchScript; save the weights with mathdl.save(model.state_dict(), f)")


def load(f, **kwargs):
    raise RuntimeError("jit.load: mathdl has no TorchScript; load weights with model.load_state_dict(mathdl.load(f))")
