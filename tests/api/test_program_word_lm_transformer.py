# ruff: noqa: UP008, UP004, UP015, UP032, E226, E501, N806  (the public example's own idioms, kept as written)
"""PyTorch's examples/word_language_model with ``--model Transformer`` runs on mathdl.

The transcription keeps ``data.py`` (``Dictionary``, ``Corpus.tokenize`` building
``torch.tensor(ids).type(torch.int64)`` per line and ``torch.cat``), ``model.py``'s
``PositionalEncoding`` (``pe[:, 0::2] = torch.sin(position * div_term)``, ``register_buffer``) and
``TransformerModel``, a subclass of ``nn.Transformer`` whose mask is
``torch.log(torch.tril(torch.ones(sz,sz)))``, ``main.py``'s ``batchify`` (``narrow``,
``view(bsz, -1).t().contiguous()``), ``get_batch``, the training loop with ``clip_grad_norm_`` and the
manual step ``p.data.add_(p.grad, alpha=-lr)``, ``evaluate`` with its ``len(data) * criterion(...)``
sum, the learning-rate annealing on a worse validation loss, and ``generate.py``'s sampling loop
(``output[-1].squeeze().div(temperature).exp()``, ``torch.multinomial(word_weights, 1)[0]``,
``torch.Tensor([[word_idx]]).long()``, ``idx2word[word_idx]``).  Changed: the corpus (a few lines
written here), the sizes, and the checkpoint (main.py pickles the whole model with
``torch.save(model, f)``; see ``test_whole_model_checkpoint``).

``nn.Transformer`` keeps its own dropout of 0.1 whatever ``--dropout`` says, so the comparison with
PyTorch (same initial weights, same batches) sets every Dropout's ``p`` to 0 first.
"""

import math
import os

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

TEXT = {
    "train.txt": " the cat sat on the mat \n the dog sat on the log \n a cat and a dog sat on a mat \n" * 4,
    "valid.txt": " the dog sat on the mat \n a cat sat on the log \n",
    "test.txt": " the cat sat on a log \n",
}


def word_lm(torch, path, epochs=3, zero_dropout=False, copy_from=None, words=12):
    nn = torch.nn
    F = torch.nn.functional
    log = []

    def print(*args):  # main.py prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    # ---- data.py
    class Dictionary(object):
        def __init__(self):
            self.word2idx = {}
            self.idx2word = []

        def add_word(self, word):
            if word not in self.word2idx:
                self.idx2word.append(word)
                self.word2idx[word] = len(self.idx2word) - 1
            return self.word2idx[word]

        def __len__(self):
            return len(self.idx2word)

    class Corpus(object):
        def __init__(self, path):
            self.dictionary = Dictionary()
            self.train = self.tokenize(os.path.join(path, 'train.txt'))
            self.valid = self.tokenize(os.path.join(path, 'valid.txt'))
            self.test = self.tokenize(os.path.join(path, 'test.txt'))

        def tokenize(self, path):
            """Tokenizes a text file."""
            assert os.path.exists(path)
            # Add words to the dictionary
            with open(path, 'r', encoding="utf8") as f:
                for line in f:
                    words = line.split() + ['<eos>']
                    for word in words:
                        self.dictionary.add_word(word)

            # Tokenize file content
            with open(path, 'r', encoding="utf8") as f:
                idss = []
                for line in f:
                    words = line.split() + ['<eos>']
                    ids = []
                    for word in words:
                        ids.append(self.dictionary.word2idx[word])
                    idss.append(torch.tensor(ids).type(torch.int64))
                ids = torch.cat(idss)

            return ids

    # ---- model.py
    class PositionalEncoding(nn.Module):
        r"""Inject some information about the relative or absolute position of the tokens in the sequence.
            The positional encodings have the same dimension as the embeddings, so that the two can be summed.
            Here, we use sine and cosine functions of different frequencies.
        .. math:
            \text{PosEncoder}(pos, 2i) = sin(pos/10000^(2i/d_model))
            \text{PosEncoder}(pos, 2i+1) = cos(pos/10000^(2i/d_model))
            \text{where pos is the word position and i is the embed idx)
        """

        def __init__(self, d_model, dropout=0.1, max_len=5000):
            super(PositionalEncoding, self).__init__()
            self.dropout = nn.Dropout(p=dropout)

            pe = torch.zeros(max_len, d_model)
            position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            pe = pe.unsqueeze(0).transpose(0, 1)
            self.register_buffer('pe', pe)

        def forward(self, x):
            r"""Inputs of forward function
            Args:
                x: the sequence fed to the positional encoder model (required).
            Shape:
                x: [sequence length, batch size, embed dim]
                output: [sequence length, batch size, embed dim]
            """

            x = x + self.pe[:x.size(0), :]
            return self.dropout(x)

    class TransformerModel(nn.Transformer):
        """Container module with an encoder, a recurrent or transformer module, and a decoder."""

        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
            super(TransformerModel, self).__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid, num_encoder_layers=nlayers)
            self.model_type = 'Transformer'
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(ninp, dropout)

            self.input_emb = nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = nn.Linear(ninp, ntoken)

            self.init_weights()

        def _generate_square_subsequent_mask(self, sz):
            return torch.log(torch.tril(torch.ones(sz,sz)))

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, src, has_mask=True):
            if has_mask:
                device = src.device
                if self.src_mask is None or self.src_mask.size(0) != len(src):
                    mask = self._generate_square_subsequent_mask(len(src)).to(device)
                    self.src_mask = mask
            else:
                self.src_mask = None

            src = self.input_emb(src) * math.sqrt(self.ninp)
            src = self.pos_encoder(src)
            output = self.encoder(src, mask=self.src_mask)
            output = self.decoder(output)
            return F.log_softmax(output, dim=-1)

    # ---- main.py (args of a small run: --model Transformer --emsize 16 --nhid 32 --nlayers 2 --nhead 2)
    class Args:
        model, emsize, nhid, nlayers, lr, clip = 'Transformer', 16, 32, 2, 0.5, 0.25
        batch_size, bptt, dropout, nhead, log_interval = 4, 6, 0.2, 2, 2
    args = Args()
    args.epochs = epochs
    torch.manual_seed(1111)
    device = torch.device("cpu")

    corpus = Corpus(path)

    def batchify(data, bsz):
        # Work out how cleanly we can divide the dataset into bsz parts.
        nbatch = data.size(0) // bsz
        # Trim off any extra elements that wouldn't cleanly fit (remainder).
        data = data.narrow(0, 0, nbatch * bsz)
        # Evenly divide the data across the bsz batches.
        data = data.view(bsz, -1).t().contiguous()
        return data.to(device)

    eval_batch_size = 2
    train_data = batchify(corpus.train, args.batch_size)
    val_data = batchify(corpus.valid, eval_batch_size)
    test_data = batchify(corpus.test, eval_batch_size)

    ntokens = len(corpus.dictionary)
    model = TransformerModel(ntokens, args.emsize, args.nhead, args.nhid, args.nlayers, args.dropout).to(device)
    if zero_dropout:  # (test only: deterministic runs for the comparison)
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.p = 0.0
            if isinstance(m, nn.MultiheadAttention):  # its attention-weight dropout is a float attribute
                m.dropout = 0.0
    if copy_from is not None:  # (test only: the other library's initial weights)
        model.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}

    criterion = nn.NLLLoss()

    def get_batch(source, i):
        seq_len = min(args.bptt, len(source) - 1 - i)
        data = source[i:i+seq_len]
        target = source[i+1:i+1+seq_len].view(-1)
        return data, target

    def evaluate(data_source):
        # Turn on evaluation mode which disables dropout.
        model.eval()
        total_loss = 0.
        ntokens = len(corpus.dictionary)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, args.bptt):
                data, targets = get_batch(data_source, i)
                output = model(data)
                output = output.view(-1, ntokens)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)

    train_losses = []

    def train():
        # Turn on training mode which enables dropout.
        model.train()
        total_loss = 0.
        ntokens = len(corpus.dictionary)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
            data, targets = get_batch(train_data, i)
            # Starting each batch, we detach the hidden state from how it was previously produced.
            # If we didn't, the model would try backpropagating all the way to start of the dataset.
            model.zero_grad()
            output = model(data)
            output = output.view(-1, ntokens)
            loss = criterion(output, targets)
            loss.backward()

            # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)

            total_loss += loss.item()
            train_losses.append(loss.item())

            if batch % args.log_interval == 0 and batch > 0:
                cur_loss = total_loss / args.log_interval
                print('| epoch {:3d} | {:5d}/{:5d} batches | lr {:02.2f} | loss {:5.2f} | ppl {:8.2f}'.format(
                    epoch, batch, len(train_data) // args.bptt, lr, cur_loss, math.exp(cur_loss)))
                total_loss = 0

    # Loop over epochs.
    lr = args.lr
    best_val_loss = None
    val_losses = []
    for epoch in range(1, args.epochs+1):
        train()
        val_loss = evaluate(val_data)
        val_losses.append(val_loss)
        print('-' * 89)
        print('| end of epoch {:3d} | valid loss {:5.2f} | valid ppl {:8.2f}'.format(epoch, val_loss, math.exp(val_loss)))
        print('-' * 89)
        # Save the model if the validation loss is the best we've seen so far.
        if not best_val_loss or val_loss < best_val_loss:
            best_val_loss = val_loss
        else:
            # Anneal the learning rate if no improvement has been seen in the validation dataset.
            lr /= 4.0

    # Run on test data.
    test_loss = evaluate(test_data)
    print('=' * 89)
    print('| End of training | test loss {:5.2f} | test ppl {:8.2f}'.format(test_loss, math.exp(test_loss)))
    print('=' * 89)

    # ---- generate.py (the Transformer branch)
    model.eval()
    input = torch.randint(ntokens, (1, 1), dtype=torch.long).to(device)
    out = []
    with torch.no_grad():  # no tracking history
        for i in range(words):
            output = model(input, False)
            word_weights = output[-1].squeeze().div(1.0).exp().cpu()
            word_idx = torch.multinomial(word_weights, 1)[0]
            word_tensor = torch.Tensor([[word_idx]]).long().to(device)
            input = torch.cat([input, word_tensor], 0)

            word = corpus.dictionary.idx2word[word_idx]

            out.append(word + ('\n' if i % 20 == 19 else ' '))
    return initial, train_losses, val_losses, test_loss, "".join(out), log, model


@pytest.fixture
def corpus_dir(tmp_path):
    for name, text in TEXT.items():
        (tmp_path / name).write_text(text)
    return str(tmp_path)


def test_transformer_word_lm_runs_learns_and_generates(corpus_dir):
    _, losses, val, test_loss, text, log, model = word_lm(mathdl, corpus_dir)
    assert all(np.isfinite(losses)) and val[-1] < val[0] and test_loss < math.log(11)  # 11 words with <eos>
    assert log[-2].startswith("| End of training | test loss")
    words = text.split()
    assert len(words) == 12 and set(words) <= set(" ".join(TEXT.values()).split()) | {"<eos>"}
    assert isinstance(model, mathdl.nn.Transformer) and isinstance(model.decoder, mathdl.nn.Linear)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")  # PyTorch's note on its seq-first fast path
def test_transformer_word_lm_matches_pytorch(corpus_dir):
    init, ours, our_val, our_test, *_ = word_lm(mathdl, corpus_dir, zero_dropout=True)
    _, theirs, their_val, their_test, *_ = word_lm(torch, corpus_dir, zero_dropout=True, copy_from=init)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    np.testing.assert_allclose(our_val + [our_test], their_val + [their_test], rtol=1e-4)


@pytest.mark.xfail(raises=TypeError, strict=True,
                   reason="gap (design): mathdl.save stores tensors and plain values, never a pickled Module; "
                          "main.py's torch.save(model, f) / torch.load(f, weights_only=False) needs a pickle path")
def test_whole_model_checkpoint(tmp_path):
    model = mathdl.nn.Linear(2, 2)
    with open(tmp_path / "model.pt", "wb") as f:
        mathdl.save(model, f)
    with open(tmp_path / "model.pt", "rb") as f:
        back = mathdl.load(f, weights_only=False)
    np.testing.assert_array_equal(back.weight.detach().numpy(), model.weight.detach().numpy())
