# ruff: noqa: E111, E114, E117, E231, E241, E261, E262, E265, E401, C414, N806  (the lecture's own idioms)
"""karpathy's makemore MLP with hand-written BatchNorm ("Neural Networks: Zero to Hero", part 3) on mathdl.

The notebook's code transcribed with its idioms kept: ``build_dataset``, ``torch.Generator().
manual_seed(2147483647)`` passed as ``generator=g`` to ``torch.randn`` / ``torch.randint`` /
``torch.multinomial``, Kaiming-scaled ``W1 = torch.randn(...) * (5/3)/((n_embd * block_size)**0.5)``,
``p.requires_grad = True`` on plain tensors, ``C[Xb]`` indexing, ``emb.view(emb.shape[0], -1)``, the
batch statistics ``hpreact.mean(0, keepdim=True)`` / ``hpreact.std(0, keepdim=True)`` and running
averages under ``torch.no_grad()``, ``p.grad = None``, ``p.data += -lr * p.grad``,
``loss.log10().item()``, ``@torch.no_grad()`` on ``split_loss``, and the sampling loop.  Changed: a
short list of names written here instead of names.txt, and the step counts.

The random streams of two libraries differ, so the comparison with PyTorch feeds both runs the same
draws (``randn``, ``randint`` and ``multinomial`` given a generator read one NumPy stream); the
losses, the split losses and the sampled names must then agree.
"""

import random
import types

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

NAMES = ("emma olivia ava isabella sophia charlotte mia amelia harper evelyn abigail emily elizabeth mila ella "
         "avery sofia camila aria scarlett victoria madison luna grace chloe penelope layla riley zoey nora lily "
         "eleanor hannah lillian addison aubrey ellie stella natalie zoe leah hazel violet aurora savannah audrey "
         "brooklyn bella claire skylar liam noah oliver elijah william james benjamin lucas henry alexander mason "
         "michael ethan daniel jacob logan jackson levi sebastian mateo jack owen theodore aiden samuel joseph "
         "john david wyatt matthew luke asher carter julian grayson leo jayden gabriel isaac lincoln anthony").split()


def makemore(torch, max_steps=400, n_samples=5):
    F = torch.nn.functional
    log = []

    def print(*args):  # the notebook prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    words = list(NAMES)  # words = open('names.txt', 'r').read().splitlines()
    chars = sorted(list(set(''.join(words))))
    stoi = {s:i+1 for i,s in enumerate(chars)}
    stoi['.'] = 0
    itos = {i:s for s,i in stoi.items()}
    vocab_size = len(itos)

    block_size = 3 # context length: how many characters do we take to predict the next one?

    def build_dataset(words):
      X, Y = [], []

      for w in words:
        context = [0] * block_size
        for ch in w + '.':
          ix = stoi[ch]
          X.append(context)
          Y.append(ix)
          context = context[1:] + [ix] # crop and append

      X = torch.tensor(X)
      Y = torch.tensor(Y)
      print(X.shape, Y.shape)
      return X, Y

    random.seed(42)
    random.shuffle(words)
    n1 = int(0.8*len(words))
    n2 = int(0.9*len(words))

    Xtr,  Ytr  = build_dataset(words[:n1])     # 80%
    Xdev, Ydev = build_dataset(words[n1:n2])   # 10%
    Xte,  Yte  = build_dataset(words[n2:])     # 10%

    # MLP revisited
    n_embd = 10 # the dimensionality of the character embedding vectors
    n_hidden = 200 # the number of neurons in the hidden layer of the MLP

    g = torch.Generator().manual_seed(2147483647) # for reproducibility
    C  = torch.randn((vocab_size, n_embd),            generator=g)
    W1 = torch.randn((n_embd * block_size, n_hidden), generator=g) * (5/3)/((n_embd * block_size)**0.5) #* 0.2
    #b1 = torch.randn(n_hidden,                        generator=g) * 0.01
    W2 = torch.randn((n_hidden, vocab_size),          generator=g) * 0.01
    b2 = torch.randn(vocab_size,                      generator=g) * 0

    # BatchNorm parameters
    bngain = torch.ones((1, n_hidden))
    bnbias = torch.zeros((1, n_hidden))
    bnmean_running = torch.zeros((1, n_hidden))
    bnstd_running = torch.ones((1, n_hidden))

    parameters = [C, W1, W2, b2, bngain, bnbias]
    print(sum(p.nelement() for p in parameters)) # number of parameters in total
    for p in parameters:
      p.requires_grad = True

    # same optimization as last time
    batch_size = 32
    lossi = []
    losses = []

    for i in range(max_steps):

      # minibatch construct
      ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)
      Xb, Yb = Xtr[ix], Ytr[ix] # batch X,Y

      # forward pass
      emb = C[Xb] # embed the characters into vectors
      embcat = emb.view(emb.shape[0], -1) # concatenate the vectors
      # Linear layer
      hpreact = embcat @ W1 #+ b1 # hidden layer pre-activation
      # BatchNorm layer
      # -------------------------------------------------------------
      bnmeani = hpreact.mean(0, keepdim=True)
      bnstdi = hpreact.std(0, keepdim=True)
      hpreact = bngain * (hpreact - bnmeani) / bnstdi + bnbias
      with torch.no_grad():
        bnmean_running = 0.999 * bnmean_running + 0.001 * bnmeani
        bnstd_running = 0.999 * bnstd_running + 0.001 * bnstdi
      # -------------------------------------------------------------
      # Non-linearity
      h = torch.tanh(hpreact) # hidden layer
      logits = h @ W2 + b2 # output layer
      loss = F.cross_entropy(logits, Yb) # loss function

      # backward pass
      for p in parameters:
        p.grad = None
      loss.backward()

      # update
      lr = 0.1 if i < max_steps // 2 else 0.01 # step learning rate decay
      for p in parameters:
        p.data += -lr * p.grad

      # track stats
      if i % 100 == 0: # print every once in a while
        print(f'{i:7d}/{max_steps:7d}: {loss.item():.4f}')
      lossi.append(loss.log10().item())
      losses.append(loss.item())

    split_losses = {}

    @torch.no_grad() # this decorator disables gradient tracking
    def split_loss(split):
      x,y = {
        'train': (Xtr, Ytr),
        'val': (Xdev, Ydev),
        'test': (Xte, Yte),
      }[split]
      emb = C[x] # (N, block_size, n_embd)
      embcat = emb.view(emb.shape[0], -1) # concat into (N, block_size * n_embd)
      hpreact = embcat @ W1 # + b1
      #hpreact = bngain * (hpreact - hpreact.mean(0, keepdim=True)) / hpreact.std(0, keepdim=True) + bnbias
      hpreact = bngain * (hpreact - bnmean_running) / bnstd_running + bnbias
      h = torch.tanh(hpreact) # (N, n_hidden)
      logits = h @ W2 + b2 # (N, vocab_size)
      loss = F.cross_entropy(logits, y)
      print(split, loss.item())
      split_losses[split] = loss.item()

    split_loss('train')
    split_loss('val')

    # sample from the model
    g = torch.Generator().manual_seed(2147483647 + 10)

    samples = []
    for _ in range(n_samples):

        out = []
        context = [0] * block_size # initialize with all ...
        while True:
          # forward pass neural net
          emb = C[torch.tensor([context])] # (1,block_size,n_embd)
          embcat = emb.view(emb.shape[0], -1) # concatenate the vectors
          hpreact = embcat @ W1
          hpreact = bngain * (hpreact - bnmean_running) / bnstd_running + bnbias
          h = torch.tanh(hpreact)
          logits = h @ W2 + b2
          probs = F.softmax(logits, dim=1)
          # sample from the distribution
          ix = torch.multinomial(probs, num_samples=1, generator=g).item()
          # shift the context window and track the samples
          context = context[1:] + [ix]
          out.append(ix)
          # if we sample the special '.' token, end generation
          if ix == 0:
            break

        samples.append(''.join(itos[i] for i in out))
        print(samples[-1])
    return losses, lossi, split_losses, samples, log


class SameDraws(types.ModuleType):
    """The library ``lib`` whose ``randn``, ``randint`` and ``multinomial`` read one NumPy stream when given a
    generator (float32 normals; multinomial by inverting the CDF at a uniform draw), so that two libraries
    make the same draws; everything else is ``lib``'s."""

    def __init__(self, lib, seed):
        super().__init__(lib.__name__)
        self._lib, self._rng = lib, np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def randn(self, *size, generator=None):
        size = size[0] if len(size) == 1 and isinstance(size[0], tuple) else size
        return self._lib.tensor(self._rng.standard_normal(size).astype(np.float32))

    def randint(self, low, high, size, generator=None):
        return self._lib.tensor(self._rng.integers(low, high, size=size))

    def multinomial(self, probs, num_samples, generator=None):
        cdf = np.cumsum(probs.detach().numpy().astype(np.float64), axis=-1)
        u = self._rng.random(cdf.shape[:-1] + (1,)) * cdf[..., -1:]
        return self._lib.tensor(np.minimum((cdf < u).sum(-1, keepdims=True), cdf.shape[-1] - 1))


def test_makemore_mlp_runs_learns_and_samples():
    losses, lossi, split, samples, log = makemore(mathdl)
    v = len(set("".join(NAMES))) + 1  # the letters and '.'
    assert log[3] == str(v * 10 + 30 * 200 + 200 * v + v + 200 + 200)  # p.nelement() summed
    assert np.mean(losses[-20:]) < losses[0] - 0.8  # ln 26 = 3.3 nats at the start
    np.testing.assert_allclose(lossi, np.log10(losses), rtol=1e-6)
    assert split["train"] < 2.6 and len(samples) == 5 and all(s.endswith(".") for s in samples)
    assert set("".join(samples)) <= set("".join(NAMES)) | {"."}


def test_makemore_mlp_matches_pytorch():
    ours = makemore(SameDraws(mathdl, 0), max_steps=60)
    theirs = makemore(SameDraws(torch, 0), max_steps=60)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=2e-5)
    np.testing.assert_allclose([ours[2][k] for k in ("train", "val")], [theirs[2][k] for k in ("train", "val")],
                               rtol=2e-5)
    assert ours[3] == theirs[3]  # the same names sampled


def test_plain_tensor_requires_grad_assignment_and_data_iadd():
    # p.requires_grad = True on a plain tensor; p.data += -lr * p.grad updates it in place, as PyTorch
    for lib in (mathdl, torch):
        p = lib.ones(3)
        p.requires_grad = True
        assert p.requires_grad and p.is_leaf
        (p * p).sum().backward()
        before = p.data
        p.data += -0.5 * p.grad
        np.testing.assert_array_equal(p.detach().numpy(), [0.0, 0.0, 0.0])
        assert p.requires_grad and p.is_leaf and before.data_ptr() == p.data.data_ptr()
