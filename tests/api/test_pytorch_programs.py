"""Public PyTorch programs run on mathdl with only the import changed.

``word_language_model`` is the core of PyTorch's examples/word_language_model (model.py and the
training loop of main.py, trimmed to a few steps): ``.data.uniform_`` initialisation, a manual SGD
step ``p.data.add_(p.grad, alpha=-lr)``, hidden states repackaged with ``detach``, gradient
clipping.  The same source runs on both libraries from the same initial weights, and the losses must
agree; the ``.data`` tests pin PyTorch's semantics of that attribute.
"""

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


def word_language_model(torch, steps=8, copy_from=None):
    nn = torch.nn

    class RNNModel(nn.Module):
        def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.0):
            super().__init__()
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)
            self.init_weights()
            self.nhid, self.nlayers = nhid, nlayers

        def init_weights(self):
            initrange = 0.1
            self.encoder.weight.data.uniform_(-initrange, initrange)
            self.decoder.bias.data.zero_()
            self.decoder.weight.data.uniform_(-initrange, initrange)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output).view(-1, self.decoder.out_features)
            return torch.nn.functional.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))

    def repackage_hidden(h):
        if isinstance(h, torch.Tensor):
            return h.detach()
        return tuple(repackage_hidden(v) for v in h)

    torch.manual_seed(0)
    ntokens, bptt, bsz, lr, clip = 20, 5, 3, 5.0, 0.25
    model = RNNModel(ntokens, 8, 12, 2).double()
    if copy_from is not None:  # the other library's initial weights, so the runs can be compared
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.data.copy_(torch.tensor(copy_from[name]))
    initial = {name: np.array(p.detach().numpy()) for name, p in model.named_parameters()}
    # a learnable stream: each column counts up modulo 7 from its own start
    source = torch.tensor((np.arange(bptt * steps + 1)[:, None] + np.arange(bsz)[None, :] * 3) % 7)
    criterion = nn.NLLLoss()
    model.train()
    hidden = model.init_hidden(bsz)
    losses = []
    for i in range(0, steps * bptt, bptt):
        data, targets = source[i:i + bptt], source[i + 1:i + 1 + bptt].reshape(-1)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.data.item())
    return initial, losses


def test_word_language_model_runs_as_in_pytorch():
    init, ours = word_language_model(mathdl)
    _, theirs = word_language_model(torch, copy_from=init)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert ours[-1] < ours[0] - 0.5  # it learns (2.99 -> 2.18 nats)


def test_data_is_a_tensor_sharing_memory_and_cut_from_the_graph():
    for lib in (mathdl, torch):
        p = lib.nn.Parameter(lib.ones(3, dtype=lib.float64))
        d = p.data
        assert isinstance(d, lib.Tensor) and not d.requires_grad and d.grad_fn is None
        d.mul_(2.0)  # writes through to p's memory
        np.testing.assert_array_equal(p.detach().numpy(), [2.0, 2.0, 2.0])
        assert p.requires_grad


def test_changes_through_data_are_not_seen_by_autograd():
    # PyTorch: .data does not share the version counter, so backward uses the changed value silently
    # (that is the documented difference from detach(), which raises)
    results = []
    for lib in (mathdl, torch):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = x * 1.0
        z = (y * y).sum()
        y.data.mul_(10.0)
        z.backward()
        results.append(x.grad.numpy().copy())
    np.testing.assert_array_equal(results[0], results[1])


def test_assigning_data_swaps_the_array():
    for lib in (mathdl, torch):
        p = lib.nn.Parameter(lib.zeros(2, 3))
        p.data = lib.ones(4)
        assert tuple(p.shape) == (4,) and p.requires_grad
        np.testing.assert_array_equal(p.detach().numpy(), np.ones(4))


def test_assigning_data_refuses_what_is_not_a_tensor():
    p = mathdl.nn.Parameter(mathdl.zeros(2))
    with pytest.raises(TypeError, match="expected a Tensor"):
        p.data = [1.0, 2.0]


def test_raw_array_is_array():
    t = mathdl.tensor([1.0, 2.0])
    assert isinstance(t.array, np.ndarray) and t.data.array is t.array
