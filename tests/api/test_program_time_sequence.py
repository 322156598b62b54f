# ruff: noqa: UP008, E251, E261, E262, E265, B007  (the public example's own idioms, kept as written)
"""PyTorch's examples/time_sequence_prediction runs on mathdl with only the import changed.

The example transcribed with its idioms kept: ``generate_sine_wave.py`` (``np.random.seed(2)``,
shifted sine waves, saved with ``torch.save`` and read back with ``torch.load``) and ``train.py``
(``Sequence`` of two ``nn.LSTMCell`` and a Linear, states made with
``torch.zeros(..., dtype=torch.double)``, ``input.split(1, dim=1)``, the ``future`` loop feeding its
own output back, ``torch.cat(outputs, dim=1)``; ``seq.double()``, MSELoss, ``optim.LBFGS(lr=0.8)``
stepped with a closure, the test prediction under ``no_grad`` and ``pred.detach().numpy()``).
Changed: the sizes (N, L, the future horizon and the steps, so that it runs in seconds), the
matplotlib plot (dropped) and the file place (pytest's tmp_path).

Everything is deterministic given the weights: the same source runs on PyTorch from mathdl's
initial weights and the losses and predictions must agree.
"""

import argparse
import textwrap

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

IMPORTS = """
import torch
import torch.nn as nn
import torch.optim as optim
"""


def generate_sine_wave(torch, path, N=100, L=1000):
    np.random.seed(2)

    T = 20
    x = np.empty((N, L), 'int64')
    x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
    data = np.sin(x / 1.0 / T).astype('float64')
    torch.save(data, open(path, 'wb'))


def time_sequence(torch, path, argv=(), future=1000, copy_from=None):
    nn, optim = torch.nn, torch.optim
    log = []

    def print(*args):  # the example prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    class Sequence(nn.Module):
        def __init__(self):
            super(Sequence, self).__init__()
            self.lstm1 = nn.LSTMCell(1, 51)
            self.lstm2 = nn.LSTMCell(51, 51)
            self.linear = nn.Linear(51, 1)

        def forward(self, input, future = 0):
            outputs = []
            h_t = torch.zeros(input.size(0), 51, dtype=torch.double)
            c_t = torch.zeros(input.size(0), 51, dtype=torch.double)
            h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
            c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)

            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for i in range(future):# if we should predict the future
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            outputs = torch.cat(outputs, dim=1)
            return outputs

    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=15, help='steps to run')
    opt = parser.parse_args(list(argv))
    # set random seed to 0
    np.random.seed(0)
    torch.manual_seed(0)
    # load data and make training set
    data = torch.load(path, weights_only=False)
    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])
    # build the model
    seq = Sequence()
    seq.double()
    if copy_from is not None:  # the other library's initial weights, so the runs can be compared
        seq.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().numpy().copy() for k, v in seq.state_dict().items()}
    criterion = nn.MSELoss()
    # use LBFGS as optimizer since we can load the whole data to train
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    losses, test_losses = [], []
    #begin to train
    for i in range(opt.steps):
        print('STEP: ', i)
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            print('loss:', loss.item())
            losses.append(loss.item())
            loss.backward()
            return loss
        optimizer.step(closure)
        # begin to predict, no need to track gradient here
        with torch.no_grad():
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            print('test loss:', loss.item())
            test_losses.append(loss.item())
            y = pred.detach().numpy()
    return initial, losses, test_losses, y, log


def test_time_sequence_imports_resolve_on_mathdl():
    exec(textwrap.dedent(IMPORTS).replace("torch", "mathdl"), {})


def test_time_sequence_matches_pytorch(tmp_path):
    generate_sine_wave(mathdl, tmp_path / "ours.pt", N=8, L=40)
    generate_sine_wave(torch, tmp_path / "theirs.pt", N=8, L=40)
    data = mathdl.load(tmp_path / "ours.pt")
    assert isinstance(data, np.ndarray) and data.shape == (8, 40) and data.dtype == np.float64
    np.testing.assert_array_equal(data, torch.load(tmp_path / "theirs.pt", weights_only=False))
    init, ours, our_tests, our_y, log = time_sequence(mathdl, tmp_path / "ours.pt", ["--steps", "2"], future=10)
    _, theirs, their_tests, their_y, _ = time_sequence(torch, tmp_path / "theirs.pt", ["--steps", "2"], future=10,
                                                       copy_from=init)
    assert len(ours) == len(theirs) > 2  # LBFGS evaluates the closure up to max_iter=20 times a step
    np.testing.assert_allclose(ours, theirs, rtol=1e-7)
    np.testing.assert_allclose(our_tests, their_tests, rtol=1e-7)
    np.testing.assert_allclose(our_y, their_y, rtol=1e-6, atol=1e-9)
    assert our_y.shape == (3, 39 + 10) and ours[-1] < 0.2 * ours[0]  # it fits the waves
    assert log[0] == "STEP:  0" and log[1].startswith("loss: ")
