# ruff: noqa: UP008, N802, N806, E741, B007  (the tutorial's own idioms, kept as written)
"""PyTorch's "NLP From Scratch: Generating Names with a Character-Level RNN" runs on mathdl unchanged.

Kept: the hand-written ``RNN`` module (``torch.cat((category, input, hidden), 1)``, i2h / i2o / o2o,
``nn.LogSoftmax(dim=1)``), the one-hot builders writing through chained indexing
(``tensor[0][li] = 1``, ``tensor[li][0][all_letters.find(letter)] = 1``: a view, then a write into
the original), ``torch.LongTensor(letter_indexes)``, ``target_line_tensor.unsqueeze_(-1)``,
``loss = torch.Tensor([0])`` accumulated in place with ``loss += l`` (a tensor without grad made part of
the graph), ``p.data.add_(p.grad.data, alpha=-learning_rate)``, and ``sample`` with ``output.topk(1)``,
``topi[0][0]`` compared with an int and used as a string index.  Changed: the names are a few lines
written here, and the iterations are few.  The training pairs come from Python's ``random`` (seeded
alike), so with the dropout at 0 (for the comparison only) the run is compared with PyTorch's.
"""

import random
import string

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

CATEGORY_LINES = {
    "English": ["Abbott", "Adams", "Baker", "Carter", "Cooper", "Davies", "Edwards", "Foster"],
    "Italian": ["Abate", "Bianchi", "Conti", "Esposito", "Ferrari", "Gallo", "Marino", "Rossi"],
    "Russian": ["Abakumov", "Babin", "Ivanov", "Kuznetsov", "Morozov", "Orlov", "Petrov", "Sokolov"],
}


def char_rnn(torch, n_iters=150, dropout=0.1, copy_from=None):
    nn = torch.nn

    all_letters = string.ascii_letters + " .,;'-"
    n_letters = len(all_letters) + 1 # Plus EOS marker

    category_lines = CATEGORY_LINES
    all_categories = list(category_lines)
    n_categories = len(all_categories)

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super(RNN, self).__init__()
            self.hidden_size = hidden_size

            self.i2h = nn.Linear(n_categories + input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(n_categories + input_size + hidden_size, output_size)
            self.o2o = nn.Linear(hidden_size + output_size, output_size)
            self.dropout = nn.Dropout(dropout)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, category, input, hidden):
            input_combined = torch.cat((category, input, hidden), 1)
            hidden = self.i2h(input_combined)
            output = self.i2o(input_combined)
            output_combined = torch.cat((hidden, output), 1)
            output = self.o2o(output_combined)
            output = self.dropout(output)
            output = self.softmax(output)
            return output, hidden

        def initHidden(self):
            return torch.zeros(1, self.hidden_size)

    # Random item from a list
    def randomChoice(l):
        return l[random.randint(0, len(l) - 1)]

    # Get a random category and random line from that category
    def randomTrainingPair():
        category = randomChoice(all_categories)
        line = randomChoice(category_lines[category])
        return category, line

    # One-hot vector for category
    def categoryTensor(category):
        li = all_categories.index(category)
        tensor = torch.zeros(1, n_categories)
        tensor[0][li] = 1
        return tensor

    # One-hot matrix of first to last letters (not including EOS) for input
    def inputTensor(line):
        tensor = torch.zeros(len(line), 1, n_letters)
        for li in range(len(line)):
            letter = line[li]
            tensor[li][0][all_letters.find(letter)] = 1
        return tensor

    # ``LongTensor`` of second letter to end (EOS) for target
    def targetTensor(line):
        letter_indexes = [all_letters.find(line[li]) for li in range(1, len(line))]
        letter_indexes.append(n_letters - 1) # EOS
        return torch.LongTensor(letter_indexes)

    # Make category, input, and target tensors from a random category, line pair
    def randomTrainingExample():
        category, line = randomTrainingPair()
        category_tensor = categoryTensor(category)
        input_line_tensor = inputTensor(line)
        target_line_tensor = targetTensor(line)
        return category_tensor, input_line_tensor, target_line_tensor

    criterion = nn.NLLLoss()

    learning_rate = 0.005

    def train(category_tensor, input_line_tensor, target_line_tensor):
        target_line_tensor.unsqueeze_(-1)
        hidden = rnn.initHidden()

        rnn.zero_grad()

        loss = torch.Tensor([0]) # you can also just simply use ``loss = 0``

        for i in range(input_line_tensor.size(0)):
            output, hidden = rnn(category_tensor, input_line_tensor[i], hidden)
            l = criterion(output, target_line_tensor[i])
            loss += l

        loss.backward()

        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)

        return output, loss.item() / input_line_tensor.size(0)

    torch.manual_seed(0)
    random.seed(0)
    rnn = RNN(n_letters, 64, n_letters)
    if copy_from is not None:  # (test only: the other library's initial weights)
        rnn.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().numpy().copy() for k, v in rnn.state_dict().items()}

    all_losses = []
    for iter in range(1, n_iters + 1):
        output, loss = train(*randomTrainingExample())
        all_losses.append(loss)

    max_length = 20

    # Sample from a category and starting letter
    def sample(category, start_letter='A'):
        with torch.no_grad():  # no need to track history in sampling
            category_tensor = categoryTensor(category)
            input = inputTensor(start_letter)
            hidden = rnn.initHidden()

            output_name = start_letter

            for i in range(max_length):
                output, hidden = rnn(category_tensor, input[0], hidden)
                topv, topi = output.topk(1)
                topi = topi[0][0]
                if topi == n_letters - 1:
                    break
                else:
                    letter = all_letters[topi]
                    output_name += letter
                input = inputTensor(letter)

            return output_name

    rnn.eval()
    samples = [sample(category, letter) for category in all_categories for letter in "ABC"]
    return initial, all_losses, samples


def test_char_rnn_generation_runs_and_learns():
    _, losses, samples = char_rnn(mathdl, n_iters=300)
    assert np.mean(losses[-50:]) < np.mean(losses[:50]) - 0.5  # ln 59 = 4.1 nats a letter at the start
    assert len(samples) == 9 and all(s[0] in "ABC" and 1 <= len(s) <= 21 for s in samples)


def test_char_rnn_generation_matches_pytorch():
    init, ours, our_samples = char_rnn(mathdl, dropout=0.0)
    _, theirs, their_samples = char_rnn(torch, dropout=0.0, copy_from=init)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert our_samples == their_samples


def test_chained_index_write_reaches_the_original():
    # tensor[0][li] = 1: tensor[0] is a view, so the write lands in tensor (as PyTorch)
    for lib in (mathdl, torch):
        t = lib.zeros(2, 3)
        t[1][2] = 1
        t[0][0] += 5
        np.testing.assert_array_equal(t.numpy(), [[5, 0, 0], [0, 0, 1]])


def test_in_place_accumulation_into_a_tensor_without_grad_joins_the_graph():
    # loss = torch.Tensor([0]); loss += l: the sum becomes differentiable, as in PyTorch
    grads = []
    for lib in (mathdl, torch):
        w = lib.tensor([2.0], requires_grad=True)
        loss = lib.Tensor([0])
        for k in (1.0, 3.0):
            loss += w * k
        assert loss.requires_grad
        loss.backward()
        grads.append(w.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
