# ruff: noqa: UP032  (the public example's own idioms, kept as written)
"""PyTorch's examples/regression/main.py (polynomial fit) runs on mathdl with only the import changed.

Kept: ``torch.randn(POLY_DEGREE, 1) * 5`` targets, ``make_features`` with ``x.unsqueeze(1)`` and
``torch.cat([x ** i for i in range(1, POLY_DEGREE+1)], 1)``, ``x.mm(W_target) + b_target.item()``,
``poly_desc`` formatting the 0-d tensors met by iterating a tensor (``'{:+.2f} x^{} '.format(w, i + 1)``),
``fc.zero_grad()``, ``F.smooth_l1_loss``, the manual step ``param.data.add_(-0.1 * param.grad)`` and the
stop at a loss below 1e-3.  The draws differ between libraries, so the run is checked on mathdl alone;
one step is compared with PyTorch on the same batch and weights.
"""

from itertools import count

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


def regression(torch, max_batches=20000, batch=None, weights=None):
    F = torch.nn.functional
    log = []

    def print(*args):  # the example prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    POLY_DEGREE = 4
    W_target = torch.randn(POLY_DEGREE, 1) * 5
    b_target = torch.randn(1) * 5

    def make_features(x):
        """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
        x = x.unsqueeze(1)
        return torch.cat([x ** i for i in range(1, POLY_DEGREE+1)], 1)

    def f(x):
        """Approximated function."""
        return x.mm(W_target) + b_target.item()

    def poly_desc(W, b):
        """Creates a string description of a polynomial."""
        result = 'y = '
        for i, w in enumerate(W):
            result += '{:+.2f} x^{} '.format(w, i + 1)
        result += '{:+.2f}'.format(b[0])
        return result

    def get_batch(batch_size=32):
        """Builds a batch i.e. (x, f(x)) pair."""
        random = torch.randn(batch_size)
        x = make_features(random)
        y = f(x)
        return x, y

    # Define model
    fc = torch.nn.Linear(W_target.size(0), 1)
    if weights is not None:  # (test only: one step from given weights and batch)
        W_target, b_target = torch.tensor(weights[0]), torch.tensor(weights[1])
        with torch.no_grad():
            fc.weight.copy_(torch.tensor(weights[2]))
            fc.bias.copy_(torch.tensor(weights[3]))

    losses = []
    for batch_idx in count(1):
        # Get data
        batch_x, batch_y = get_batch() if batch is None else (make_features(torch.tensor(batch)),
                                                              f(make_features(torch.tensor(batch))))

        # Reset gradients
        fc.zero_grad()

        # Forward pass
        output = F.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        losses.append(loss)

        # Backward pass
        output.backward()

        # Apply gradients
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)

        # Stop criterion
        if loss < 1e-3 or batch_idx >= max_batches:
            break

    print('Loss: {:.6f} after {} batches'.format(loss, batch_idx))
    print('==> Learned function:\t' + poly_desc(fc.weight.view(-1), fc.bias))
    print('==> Actual function:\t' + poly_desc(W_target.view(-1), b_target))
    return losses, log, (W_target, b_target, fc)


def test_regression_fits_the_polynomial():
    mathdl.manual_seed(1)
    losses, log, (W, b, fc) = regression(mathdl)
    assert losses[-1] < 1e-3 and len(losses) < 20000
    learned, actual = log[1].split("\t")[1], log[2].split("\t")[1]
    assert learned.startswith("y = ") and learned.count(" x^") == 4
    np.testing.assert_allclose(fc.weight.detach().numpy().ravel(), W.numpy().ravel(), atol=0.05)
    # the printed coefficients: '{:+.2f}'.format(0-d tensor) as PyTorch formats them
    assert actual == "y = " + "".join(f"{w:+.2f} x^{i + 1} " for i, w in enumerate(W.numpy().ravel())) + \
        f"{b.numpy()[0]:+.2f}"


def test_one_step_matches_pytorch():
    rng = np.random.default_rng(0)
    weights = ((rng.standard_normal((4, 1)) * 5).astype(np.float32), (rng.standard_normal(1) * 5).astype(np.float32),
               rng.standard_normal((1, 4)).astype(np.float32) * 0.1, np.zeros(1, np.float32))
    batch = rng.standard_normal(32).astype(np.float32) * 0.5
    ours, our_log, _ = regression(mathdl, max_batches=3, batch=batch, weights=weights)
    theirs, their_log, _ = regression(torch, max_batches=3, batch=batch, weights=weights)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert our_log[1:] == their_log[1:]
