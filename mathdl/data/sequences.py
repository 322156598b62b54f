"""Sequence tasks for transformers: digit reversal and sorting, and a character-level corpus.

``reverse`` / ``sort`` (task ``"sequence"``): inputs are random digit strings x in {0..9}^L drawn
from ``numpy.random.default_rng(seed)``; the target is x reversed (y_i = x_{L-1-i}) or sorted
ascending.  Test sequences never occur in the training set (held out exactly).

``text`` (task ``"language_model"``): the King James Version of the Book of Genesis (public domain,
see ``files/README.md``), one character per token.  The first ``1 - test_fraction`` of the text is
the training split, the rest the test split; an example is a window of ``block_size`` characters
and its target the same window shifted by one (y_t = x_{t+1}).

Baseline on the same split (``spec.extra["baseline_bits_per_char"]``): the add-alpha bigram model
  p(b | a) = (n(a, b) + alpha) / (n(a) + alpha V)
fitted on the training text, with alpha chosen on the last 10% of the training text, scored on
exactly the (context, next character) pairs the language model is scored on:
  bits per character = -(1/T) sum_t log2 p(y_t | x_t).
A model's bits per character is its mean cross-entropy in nats divided by ln 2.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .dataset import TensorDataset
from .registry import DatasetSpec, register_dataset

__all__ = ["make_reverse", "make_sort", "load_text", "bigram_bits_per_char", "unigram_bits_per_char",
           "TEXT_FILE", "encode_text", "decode_ids"]

TEXT_FILE = os.path.join(os.path.dirname(__file__), "files", "genesis_kjv.txt")


def _digit_sequences(n_train, n_test, length, num_digits, seed):
    """Distinct random sequences: the test ones do not occur among the training ones."""
    rng = np.random.default_rng(seed)
    need = n_train + n_test
    seqs = rng.integers(0, num_digits, size=(int(need * 1.1) + 16, length), dtype=np.int64)
    _, first = np.unique(seqs, axis=0, return_index=True)
    seqs = seqs[np.sort(first)]
    if len(seqs) < need:
        raise ValueError(f"sequence task: only {len(seqs)} distinct sequences of length {length} over "
                         f"{num_digits} digits, need {need}; use a longer length or fewer examples")
    return seqs[:n_train], seqs[n_train:need]


def _sequence_spec(name, transform, seed, n_train, n_test, length, num_digits):
    if length < 1 or num_digits < 2:
        raise ValueError(f"{name}: need length >= 1 and num_digits >= 2, got {length} and {num_digits}")
    tr, te = _digit_sequences(int(n_train), int(n_test), int(length), int(num_digits), seed)
    return DatasetSpec(
        train=TensorDataset(tr, transform(tr)), test=TensorDataset(te, transform(te)),
        input_shape=(length,), num_classes=num_digits, task="sequence",
        extra={"name": name, "seq_len": length, "vocab": [str(i) for i in range(num_digits)],
               "description": f"{name} a sequence of {length} digits in 0..{num_digits - 1}"},
    )


@register_dataset("reverse")
def make_reverse(seed=0, n_train=8000, n_test=1000, length=8, num_digits=10):
    """Reverse a random digit sequence (y_i = x_{L-1-i}); held-out test sequences."""
    return _sequence_spec("reverse", lambda s: s[:, ::-1].copy(), seed, n_train, n_test, length, num_digits)


@register_dataset("sort")
def make_sort(seed=0, n_train=8000, n_test=1000, length=8, num_digits=10):
    """Sort a random digit sequence ascending; held-out test sequences."""
    return _sequence_spec("sort", lambda s: np.sort(s, axis=1), seed, n_train, n_test, length, num_digits)


# --------------------------------------------------------------------------- character corpus
def encode_text(text, vocab):
    """Integer ids of the characters of ``text`` in ``vocab`` (a string); KeyError names unknown ones."""
    index = {c: i for i, c in enumerate(vocab)}
    bad = sorted(set(text) - set(index))
    if bad:
        raise KeyError(f"characters {bad!r} are not in the vocabulary of {len(vocab)} characters")
    return np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))


def decode_ids(ids, vocab):
    """The string of the characters ``vocab[i]`` for the ids ``i`` (inverse of :func:`encode_text`)."""
    return "".join(vocab[int(i)] for i in np.asarray(ids).reshape(-1))


def _bigram_counts(ids, V):
    return np.bincount(ids[:-1] * V + ids[1:], minlength=V * V).reshape(V, V).astype(np.float64)


def bigram_bits_per_char(train_ids, contexts, targets, V, alpha):
    """Mean -log2 p(target | context) under the add-alpha bigram model fitted on ``train_ids``."""
    counts = _bigram_counts(np.asarray(train_ids), V)
    probs = (counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * V)
    return float(-np.log2(probs[np.asarray(contexts).reshape(-1), np.asarray(targets).reshape(-1)]).mean())


def unigram_bits_per_char(train_ids, targets, V, alpha=1.0):
    """Mean -log2 p(target) under the add-alpha unigram model p(c) = (n(c) + alpha) / (N + alpha V)."""
    counts = np.bincount(np.asarray(train_ids), minlength=V).astype(np.float64)
    probs = (counts + alpha) / (counts.sum() + alpha * V)
    return float(-np.log2(probs[np.asarray(targets).reshape(-1)]).mean())


def _choose_alpha(train_ids, V, alphas=(3.0, 1.0, 0.3, 0.1, 0.03, 0.01, 0.001)):
    cut = int(len(train_ids) * 0.9)
    fit, val = train_ids[:cut], train_ids[cut:]
    scores = [bigram_bits_per_char(fit, val[:-1], val[1:], V, a) for a in alphas]
    return alphas[int(np.argmin(scores))]


def _windows(ids, block, stride):
    starts = np.arange(0, len(ids) - block - 1 + 1, stride)
    idx = starts[:, None] + np.arange(block + 1)[None, :]
    w = ids[idx]
    return w[:, :-1].copy(), w[:, 1:].copy()


@register_dataset("text")
def load_text(seed=0, block_size=64, test_fraction=0.1, stride=None, max_chars=None):
    """Character-level Genesis (KJV, public domain): next-character prediction windows."""
    with open(TEXT_FILE, encoding="utf-8") as f:
        text = f.read()
    if max_chars:
        text = text[: int(max_chars)]
    vocab = "".join(sorted(set(text)))
    ids = encode_text(text, vocab)
    V = len(vocab)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"text: test_fraction must be in (0, 1), got {test_fraction}")
    cut = int(len(ids) * (1.0 - test_fraction))
    train_ids, test_ids = ids[:cut], ids[cut:]
    block = int(block_size)
    if len(test_ids) < block + 1:
        raise ValueError(f"text: the test split has {len(test_ids)} characters, fewer than block_size + 1 = "
                         f"{block + 1}")
    stride = int(stride) if stride else max(1, block // 2)
    xtr, ytr = _windows(train_ids, block, stride)
    xte, yte = _windows(test_ids, block, block)  # each held-out character scored once
    alpha = _choose_alpha(train_ids, V)
    baseline = {
        "bigram": bigram_bits_per_char(train_ids, xte, yte, V, alpha),
        "unigram": unigram_bits_per_char(train_ids, yte, V),
        "uniform": math.log2(V),
    }
    return DatasetSpec(
        train=TensorDataset(xtr, ytr), test=TensorDataset(xte, yte), input_shape=(block,), num_classes=V,
        task="language_model",
        extra={"name": "text", "vocab": vocab, "block_size": block, "baseline_bits_per_char": baseline,
               "bigram_alpha": alpha, "source": "King James Version, Book of Genesis (public domain)",
               "train_chars": int(len(train_ids)), "test_chars": int(len(test_ids)),
               "test_scored_chars": int(yte.size)},
    )
