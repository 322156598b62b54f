"""Grad mode: whether operations are recorded for differentiation.

``no_grad``, ``enable_grad`` and ``set_grad_enabled`` are scoped contexts that also work as
decorators.  Train/eval is a separate flag on modules.
"""

from __future__ import annotations

import functools


class _GradState:
    __slots__ = ("enabled",)

    def __init__(self):
        self.enabled = True


state = _GradState()


def is_grad_enabled() -> bool:
    return state.enabled


class set_grad_enabled:
    """Enable or disable recording, as a call, a context manager or a decorator."""

    def __init__(self, mode: bool = True):
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode  # as a plain call it takes effect at once, like PyTorch

    def __enter__(self):
        state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False

    def __call__(self, fn):
        # used as a decorator: undo the immediate effect of __init__
        state.enabled = self.prev
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.enabled
            state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled = prev

        return wrapper


class _GradContext:
    mode = True

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if fn is not None:  # used as a bare decorator: @no_grad
            return self(fn)
        return self

    def __init__(self, fn=None):
        pass

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.enabled
            state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled = prev

        return wrapper


class no_grad(_GradContext):
    """Context/decorator in which no operation is recorded for backward."""

    mode = False


class enable_grad(_GradContext):
    """Context/decorator that records operations even inside ``no_grad``."""

    mode = True


class inference_mode(_GradContext):
    """PyTorch's inference_mode: like ``no_grad`` (``inference_mode(False)`` records as usual)."""

    def __new__(cls, mode=True):
        if callable(mode):  # bare decorator
            return _GradContext.__new__(cls)(mode)
        self = object.__new__(cls)
        self.mode = not bool(mode)
        return self

    def __init__(self, mode=True):
        pass
