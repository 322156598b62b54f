"""``mathdl.compile`` and ``mathdl.compiler``: PyTorch's graph compiler entry points.

mathdl is an eager framework with no graph compiler: ``compile(model)`` returns ``model`` itself
(and, used as a decorator, the function unchanged), so programs written for ``torch.compile`` run;
they run at mathdl's eager speed.  Options are checked for their type, not acted on.
"""

from __future__ import annotations

__all__ = ["compile", "disable", "is_compiling", "reset"]

_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,  # noqa: A001
            disable=False):
    """``torch.compile``: the identity on ``model`` (a module or a function); a decorator when
    called without it."""
    if mode not in _MODES:
        raise ValueError(f"compile: unknown mode {mode!r}; expected one of {', '.join(map(str, _MODES[1:]))}")
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise TypeError(f"compile: expected a module or a function, got {type(model).__name__}")
    return model


def disable(fn=None, recursive=True):
    """``torch.compiler.disable``: nothing is compiled, so the function is returned unchanged."""
    return (lambda f: f) if fn is None else fn


def is_compiling() -> bool:
    return False


def reset() -> None:
    """Nothing is cached by a compiler."""
