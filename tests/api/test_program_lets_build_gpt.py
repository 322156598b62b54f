# ruff: noqa: E731, E231, E261, E262, E201, E202, E501, C414, B007, A001  (the lecture's own idioms)
"""karpathy/ng-video-lecture ``gpt.py`` ("Let's build GPT: from scratch, in code, spelled out") on mathdl.

The script transcribed with its idioms kept: character encoding with ``encode``/``decode`` lambdas,
``torch.tensor(encode(text), dtype=torch.long)``, ``get_batch`` slicing ``data[i:i+block_size]`` with
the 0-d tensors met by iterating ``torch.randint(...)`` and ``torch.stack``, ``@torch.no_grad()``
``estimate_loss`` filling ``torch.zeros(eval_iters)``, ``Head`` with a registered ``tril`` buffer,
``q @ k.transpose(-2,-1) * C**-0.5`` and ``masked_fill(... == 0, float('-inf'))``,
``MultiHeadAttention`` over an ``nn.ModuleList``, ``nn.Sequential(*[Block(...)])``, ``self.apply``
initialisation, AdamW with ``zero_grad(set_to_none=True)``, and ``generate`` with
``torch.multinomial``.  Changed: the text (a few lines written here instead of tinyshakespeare) and
the sizes.  ``torch.randint`` is fed the same NumPy draws in both libraries, so with dropout 0 the
training is compared with PyTorch's from the same initial weights.
"""

import types

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\n") * 8


class FedRandint(types.ModuleType):
    """The library ``lib`` with ``randint(high, size)`` drawn from one NumPy stream."""

    def __init__(self, lib, seed):
        super().__init__(lib.__name__)
        self._lib, self._rng = lib, np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def randint(self, high, size):
        return self._lib.tensor(self._rng.integers(0, high, size=size))


def gpt(torch, max_iters=40, dropout=0.2, copy_from=None):
    nn = torch.nn
    F = torch.nn.functional
    log = []

    def print(*args):  # the script prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    # hyperparameters
    batch_size = 8 # how many independent sequences will we process in parallel?
    block_size = 16 # what is the maximum context length for predictions?
    eval_interval = 20
    learning_rate = 3e-3
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    eval_iters = 4
    n_embd = 32
    n_head = 4
    n_layer = 2
    # ------------

    torch.manual_seed(1337)

    # wget https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt
    text = TEXT

    # here are all the unique characters that occur in this text
    chars = sorted(list(set(text)))
    vocab_size = len(chars)
    # create a mapping from characters to integers
    stoi = { ch:i for i,ch in enumerate(chars) }
    itos = { i:ch for i,ch in enumerate(chars) }
    encode = lambda s: [stoi[c] for c in s] # encoder: take a string, output a list of integers
    decode = lambda l: ''.join([itos[i] for i in l]) # decoder: take a list of integers, output a string

    # Train and test splits
    data = torch.tensor(encode(text), dtype=torch.long)
    n = int(0.9*len(data)) # first 90% will be train, rest val
    train_data = data[:n]
    val_data = data[n:]

    # data loading
    def get_batch(split):
        # generate a small batch of data of inputs x and targets y
        data = train_data if split == 'train' else val_data
        ix = torch.randint(len(data) - block_size, (batch_size,))
        x = torch.stack([data[i:i+block_size] for i in ix])
        y = torch.stack([data[i+1:i+block_size+1] for i in ix])
        x, y = x.to(device), y.to(device)
        return x, y

    @torch.no_grad()
    def estimate_loss():
        out = {}
        model.eval()
        for split in ['train', 'val']:
            losses = torch.zeros(eval_iters)
            for k in range(eval_iters):
                X, Y = get_batch(split)
                logits, loss = model(X, Y)
                losses[k] = loss.item()
            out[split] = losses.mean()
        model.train()
        return out

    class Head(nn.Module):
        """ one head of self-attention """

        def __init__(self, head_size):
            super().__init__()
            self.key = nn.Linear(n_embd, head_size, bias=False)
            self.query = nn.Linear(n_embd, head_size, bias=False)
            self.value = nn.Linear(n_embd, head_size, bias=False)
            self.register_buffer('tril', torch.tril(torch.ones(block_size, block_size)))

            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            # input of size (batch, time-step, channels)
            # output of size (batch, time-step, head size)
            B,T,C = x.shape
            k = self.key(x)   # (B,T,hs)
            q = self.query(x) # (B,T,hs)
            # compute attention scores ("affinities")
            wei = q @ k.transpose(-2,-1) * k.shape[-1]**-0.5 # (B, T, hs) @ (B, hs, T) -> (B, T, T)
            wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf')) # (B, T, T)
            wei = F.softmax(wei, dim=-1) # (B, T, T)
            wei = self.dropout(wei)
            # perform the weighted aggregation of the values
            v = self.value(x) # (B,T,hs)
            out = wei @ v # (B, T, T) @ (B, T, hs) -> (B, T, hs)
            return out

    class MultiHeadAttention(nn.Module):
        """ multiple heads of self-attention in parallel """

        def __init__(self, num_heads, head_size):
            super().__init__()
            self.heads = nn.ModuleList([Head(head_size) for _ in range(num_heads)])
            self.proj = nn.Linear(head_size * num_heads, n_embd)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            out = torch.cat([h(x) for h in self.heads], dim=-1)
            out = self.dropout(self.proj(out))
            return out

    class FeedFoward(nn.Module):
        """ a simple linear layer followed by a non-linearity """

        def __init__(self, n_embd):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(n_embd, 4 * n_embd),
                nn.ReLU(),
                nn.Linear(4 * n_embd, n_embd),
                nn.Dropout(dropout),
            )

        def forward(self, x):
            return self.net(x)

    class Block(nn.Module):
        """ Transformer block: communication followed by computation """

        def __init__(self, n_embd, n_head):
            # n_embd: embedding dimension, n_head: the number of heads we'd like
            super().__init__()
            head_size = n_embd // n_head
            self.sa = MultiHeadAttention(n_head, head_size)
            self.ffwd = FeedFoward(n_embd)
            self.ln1 = nn.LayerNorm(n_embd)
            self.ln2 = nn.LayerNorm(n_embd)

        def forward(self, x):
            x = x + self.sa(self.ln1(x))
            x = x + self.ffwd(self.ln2(x))
            return x

    class GPTLanguageModel(nn.Module):

        def __init__(self):
            super().__init__()
            # each token directly reads off the logits for the next token from a lookup table
            self.token_embedding_table = nn.Embedding(vocab_size, n_embd)
            self.position_embedding_table = nn.Embedding(block_size, n_embd)
            self.blocks = nn.Sequential(*[Block(n_embd, n_head=n_head) for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd) # final layer norm
            self.lm_head = nn.Linear(n_embd, vocab_size)

            # better init, not covered in the original GPT video, but important, will cover in followup video
            self.apply(self._init_weights)

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            B, T = idx.shape

            # idx and targets are both (B,T) tensor of integers
            tok_emb = self.token_embedding_table(idx) # (B,T,C)
            pos_emb = self.position_embedding_table(torch.arange(T, device=device)) # (T,C)
            x = tok_emb + pos_emb # (B,T,C)
            x = self.blocks(x) # (B,T,C)
            x = self.ln_f(x) # (B,T,C)
            logits = self.lm_head(x) # (B,T,vocab_size)

            if targets is None:
                loss = None
            else:
                B, T, C = logits.shape
                logits = logits.view(B*T, C)
                targets = targets.view(B*T)
                loss = F.cross_entropy(logits, targets)

            return logits, loss

        def generate(self, idx, max_new_tokens):
            # idx is (B, T) array of indices in the current context
            for _ in range(max_new_tokens):
                # crop idx to the last block_size tokens
                idx_cond = idx[:, -block_size:]
                # get the predictions
                logits, loss = self(idx_cond)
                # focus only on the last time step
                logits = logits[:, -1, :] # becomes (B, C)
                # apply softmax to get probabilities
                probs = F.softmax(logits, dim=-1) # (B, C)
                # sample from the distribution
                idx_next = torch.multinomial(probs, num_samples=1) # (B, 1)
                # append sampled index to the running sequence
                idx = torch.cat((idx, idx_next), dim=1) # (B, T+1)
            return idx

    model = GPTLanguageModel()
    m = model.to(device)
    if copy_from is not None:  # (test only: the other library's initial weights)
        model.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    # print the number of parameters in the model
    print(sum(p.numel() for p in m.parameters())/1e6, 'M parameters')

    # create a PyTorch optimizer
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)

    train_losses, evals = [], []
    for iter in range(max_iters):

        # every once in a while evaluate the loss on train and val sets
        if iter % eval_interval == 0 or iter == max_iters - 1:
            losses = estimate_loss()
            print(f"step {iter}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
            evals.append((losses['train'].item(), losses['val'].item()))

        # sample a batch of data
        xb, yb = get_batch('train')

        # evaluate the loss
        logits, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        train_losses.append(loss.item())

    # generate from the model
    context = torch.zeros((1, 1), dtype=torch.long, device=device)
    print(decode(m.generate(context, max_new_tokens=50)[0].tolist()))
    return initial, train_losses, evals, log


def test_gpt_py_runs_learns_and_generates():
    _, losses, evals, log = gpt(mathdl, max_iters=60)
    assert log[0].endswith(" M parameters") and log[1].startswith("step 0: train loss ")
    assert evals[-1][0] < evals[0][0] - 0.8  # ln 34 = 3.5 nats a character at the start
    text = log[-1]
    assert len(text) == 51 and set(text) <= set(TEXT)  # decode(generate(...)): 1 + 50 characters


def test_gpt_py_matches_pytorch():
    init, ours, our_evals, _ = gpt(FedRandint(mathdl, 3), max_iters=12, dropout=0.0)
    _, theirs, their_evals, _ = gpt(FedRandint(torch, 3), max_iters=12, dropout=0.0, copy_from=init)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    np.testing.assert_allclose(our_evals, their_evals, rtol=1e-4)
