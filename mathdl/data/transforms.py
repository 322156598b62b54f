"""Transforms on image arrays (NumPy, channels first).

Each transform is a callable on one example of shape (C, H, W) or on a batch (N, C, H, W);
random transforms draw independently for each example of a batch, from mathdl's seeded
generator (``mathdl.manual_seed``) unless given their own ``generator``.

* :class:`Normalize`: x' = (x - mean_c) / std_c per channel c.
* :class:`RandomCrop`: zero-pad by ``padding`` on each side, then cut a random ``size`` window.
* :class:`RandomHorizontalFlip`: reverse the W axis with probability ``p``.
* :class:`Upsample`: enlarge H and W by an integer ``scale_factor`` (nearest: each pixel becomes a
  s x s block; bilinear: PyTorch's ``align_corners=False`` sampling x_src = (x_dst + 1/2)/s - 1/2).
"""

from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["Compose", "Lambda", "Normalize", "RandomCrop", "RandomHorizontalFlip", "Upsample"]


def _rng(generator):
    return backend.rng.np if generator is None else generator


def _check_image(name, x):
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected an image (C, H, W) or a batch (N, C, H, W), got shape {x.shape}")


class Compose:
    """Apply transforms one after another: Compose([f, g])(x) = g(f(x))."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class Lambda:
    """Wrap any function as a transform."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)


class Normalize:
    """x' = (x - mean[c]) / std[c] over the channel axis (axis -3)."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {std}")

    def __call__(self, x):
        _check_image("Normalize", x)
        c = x.shape[-3]
        if self.mean.shape[0] not in (1, c):
            raise ValueError(f"Normalize: {self.mean.shape[0]} channel means for an image with {c} channels")
        return ((x - self.mean) / self.std).astype(np.float32, copy=False)

    def __repr__(self):
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class RandomCrop:
    """Pad H and W by ``padding`` (constant ``fill``), then crop a random ``size`` = (h, w) window."""

    def __init__(self, size, padding=0, fill=0.0, generator=None):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = int(padding)
        self.fill = fill
        self.generator = generator

    def __call__(self, x):
        _check_image("RandomCrop", x)
        batch = x if x.ndim == 4 else x[None]
        p = self.padding
        if p:
            batch = np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
        n, _, h, w = batch.shape
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop {self.size} is larger than the padded image ({h}, {w})")
        rng = _rng(self.generator)
        tops = rng.integers(0, h - th + 1, n)
        lefts = rng.integers(0, w - tw + 1, n)
        out = np.stack([batch[i, :, tops[i]:tops[i] + th, lefts[i]:lefts[i] + tw] for i in range(n)])
        return out if x.ndim == 4 else out[0]

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Reverse the width axis with probability ``p`` (independently per example)."""

    def __init__(self, p=0.5, generator=None):
        self.p = float(p)
        self.generator = generator

    def __call__(self, x):
        _check_image("RandomHorizontalFlip", x)
        rng = _rng(self.generator)
        if x.ndim == 3:
            return x[..., ::-1].copy() if rng.random() < self.p else x
        flip = rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class Upsample:
    """Enlarge H and W by the integer ``scale_factor`` ("nearest" or "bilinear", align_corners=False)."""

    def __init__(self, scale_factor=4, mode="nearest"):
        if int(scale_factor) != scale_factor or scale_factor < 1:
            raise ValueError(f"Upsample: scale_factor must be a positive integer, got {scale_factor!r}")
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"Upsample: mode must be 'nearest' or 'bilinear', got {mode!r}")
        self.scale_factor = int(scale_factor)
        self.mode = mode

    @staticmethod
    def _weights(n, s):
        """Source indices i0, i1 and weight of i1 for each of the n*s output positions."""
        src = (np.arange(n * s) + 0.5) / s - 0.5
        src = np.clip(src, 0, n - 1)
        i0 = np.floor(src).astype(np.int64)
        i1 = np.minimum(i0 + 1, n - 1)
        return i0, i1, (src - i0).astype(np.float32)

    def __call__(self, x):
        _check_image("Upsample", x)
        s = self.scale_factor
        if self.mode == "nearest":
            return np.repeat(np.repeat(x, s, axis=-2), s, axis=-1)
        h, w = x.shape[-2:]
        r0, r1, wr = self._weights(h, s)
        c0, c1, wc = self._weights(w, s)
        rows = x[..., r0, :] * (1 - wr)[:, None] + x[..., r1, :] * wr[:, None]
        return (rows[..., c0] * (1 - wc) + rows[..., c1] * wc).astype(x.dtype, copy=False)

    def __repr__(self):
        return f"Upsample(scale_factor={self.scale_factor}, mode={self.mode!r})"
