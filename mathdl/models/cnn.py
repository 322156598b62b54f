"""A LeNet-style convolutional network:

  x -> [Conv3x3 -> ReLU -> MaxPool2] * len(channels) -> flatten -> Linear -> ReLU -> Linear.

Each conv (padding 1) keeps the spatial size and each pool halves it (floor), so the flattened
size is channels[-1] * (H // 2^k) * (W // 2^k).  Registered as ``"cnn"``: the builder reads
``spec.input_shape``; a flat square input (digits' 64 features) is viewed as a 1 x 8 x 8 image,
and ``upsample=s`` resizes images by s (nearest or bilinear) before the first conv.
"""

from __future__ import annotations

import math

from .. import nn
from ..ops.conv import interpolate
from ..ops.shape import reshape
from .registry import register_model

__all__ = ["LeNet", "ImageInput", "image_shape", "build_cnn"]


def image_shape(input_shape):
    """(C, H, W) for a dataset's input shape: (C, H, W) as is, (H, W) -> (1, H, W), a flat
    square (n*n,) -> (1, n, n)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3:
        return shape
    if len(shape) == 2:
        return (1,) + shape
    if len(shape) == 1:
        n = math.isqrt(shape[0])
        if n * n == shape[0]:
            return (1, n, n)
    raise ValueError(f"image models need input_shape (C, H, W), (H, W) or a flat square (n*n,); got {shape}")


class ImageInput(nn.Module):
    """Views a batch as (N, C, H, W) images and optionally upsamples them by ``scale``."""

    def __init__(self, shape, scale=1, mode="nearest"):
        super().__init__()
        self.shape, self.scale, self.mode = tuple(shape), int(scale), mode

    @property
    def out_shape(self):
        c, h, w = self.shape
        return (c, h * self.scale, w * self.scale)

    def extra_repr(self):
        return f"shape={self.shape}, scale={self.scale}"

    def forward(self, x):
        if tuple(x.shape[1:]) != self.shape:
            if math.prod(x.shape[1:]) != math.prod(self.shape):
                raise ValueError(f"ImageInput: expected inputs of shape (N, {', '.join(map(str, self.shape))}) "
                                 f"or (N, {math.prod(self.shape)}), got {tuple(x.shape)}")
            x = reshape(x, (x.shape[0],) + self.shape)
        if self.scale != 1:
            x = interpolate(x, scale_factor=self.scale, mode=self.mode,
                            align_corners=False if self.mode == "bilinear" else None)
        return x


class LeNet(nn.Module):
    """[Conv3x3(pad 1) -> ReLU -> MaxPool2] per entry of ``channels`` -> Linear -> ReLU -> Linear."""

    def __init__(self, in_shape=(1, 28, 28), num_classes=10, channels=(16, 32), hidden=64, upsample=1,
                 dropout=0.0):
        super().__init__()
        self.input = ImageInput(in_shape, upsample)
        c, h, w = self.input.out_shape
        layers = []
        for out in channels:
            layers += [nn.Conv2d(c, int(out), 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c, h, w = int(out), h // 2, w // 2
            if h < 1 or w < 1:
                raise ValueError(f"LeNet: input {in_shape} (upsample {upsample}) is too small for "
                                 f"{len(channels)} conv/pool stages")
        self.features = nn.Sequential(*layers)
        head = [nn.Flatten(), nn.Linear(c * h * w, int(hidden)), nn.ReLU()]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(int(hidden), int(num_classes)))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        return self.classifier(self.features(self.input(x)))


def _ints(v):
    if isinstance(v, str):
        return tuple(int(a) for a in v.split(",") if a.strip())
    return tuple(int(a) for a in v)


@register_model("cnn")
def build_cnn(spec, channels=(16, 32), hidden=64, upsample=1, dropout=0.0):
    """LeNet-style CNN: [conv3x3 -> ReLU -> maxpool2] x2 -> Linear(64) -> ReLU -> Linear."""
    return LeNet(image_shape(spec.input_shape), spec.num_classes, _ints(channels), int(hidden), int(upsample),
                 float(dropout))
