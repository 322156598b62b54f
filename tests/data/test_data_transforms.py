"""Transforms: Normalize, RandomCrop, RandomHorizontalFlip, Upsample (parity with torch's interpolate)."""

import numpy as np
import pytest

import mathdl
from mathdl.data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, Upsample


def test_normalize():
    x = np.random.default_rng(0).random((3, 4, 4)).astype(np.float32)
    y = Normalize([0.5, 0.4, 0.3], [0.1, 0.2, 0.3])(x)
    np.testing.assert_allclose(y[1], (x[1] - 0.4) / 0.2, rtol=1e-6)
    with pytest.raises(ValueError, match="2 channel means for an image with 3 channels"):
        Normalize([0, 0], [1, 1])(x)
    with pytest.raises(ValueError, match=r"expected an image \(C, H, W\)"):
        Normalize([0], [1])(np.zeros(5))


def test_random_crop_windows_and_seed():
    x = np.arange(2 * 6 * 6, dtype=np.float32).reshape(1, 2, 6, 6).repeat(5, 0)
    mathdl.manual_seed(0)
    y = RandomCrop(6, padding=2)(x)
    assert y.shape == (5, 2, 6, 6)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for i in range(5):  # each crop is some window of the padded image
        hits = [(t, l) for t in range(5) for l in range(5) if np.array_equal(padded[i, :, t:t + 6, l:l + 6], y[i])]
        assert hits
    mathdl.manual_seed(0)
    np.testing.assert_array_equal(RandomCrop(6, padding=2)(x), y)
    assert RandomCrop(4)(x[0]).shape == (2, 4, 4)


def test_horizontal_flip():
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x), x)
    batch = np.stack([x] * 200)
    out = RandomHorizontalFlip(0.5, generator=np.random.default_rng(0))(batch)
    flipped = np.array([np.array_equal(o, x[..., ::-1]) for o in out])
    assert 60 < flipped.sum() < 140


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_matches_torch(mode):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    ours = Upsample(4, mode)(x)
    ref = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=4, mode=mode).numpy()
    assert ours.shape == (2, 1, 32, 32)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert Upsample(2, mode)(x[0]).shape == (1, 16, 16)


def test_compose():
    t = Compose([Upsample(2), Normalize([1.0], [2.0])])
    y = t(np.ones((1, 2, 2), np.float32))
    np.testing.assert_array_equal(y, np.zeros((1, 4, 4)))
    assert "Upsample" in repr(t)
