"""Models, tasks, generation and attention maps: training reaches its targets within seconds."""

import math
import os

import numpy as np
import pytest

import mathdl
import mathdl.nn.functional as F
from mathdl import optim
from mathdl.data import load_dataset
from mathdl.models import build_model
from mathdl.models.transformer import GPT, SequenceTransformer, TransformerClassifier, sample_next


def test_reverse_and_sort_datasets_are_correct_and_held_out():
    spec = load_dataset("reverse", n_train=500, n_test=200, length=5)
    x, y = spec.train.arrays
    np.testing.assert_array_equal(y, x[:, ::-1])
    assert spec.task == "sequence" and spec.num_classes == 10 and spec.input_shape == (5,)
    train_rows = {tuple(r) for r in x}
    assert not any(tuple(r) in train_rows for r in spec.test.arrays[0])
    s = load_dataset("sort", n_train=100, n_test=50, length=7, num_digits=5)
    xs, ys = s.train.arrays
    np.testing.assert_array_equal(ys, np.sort(xs, axis=1))
    assert xs.max() < 5
    with pytest.raises(ValueError, match="distinct sequences"):
        load_dataset("reverse", n_train=100, n_test=10, length=2)


def test_text_dataset_and_bigram_baseline():
    spec = load_dataset("text", block_size=32)
    x, y = spec.train.arrays
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # target = input shifted by one
    vocab = spec.extra["vocab"]
    assert spec.num_classes == len(vocab) and spec.task == "language_model"
    assert "".join(vocab[i] for i in x[0][:12]) == "CHAPTER 1\n\nI"
    base = spec.extra["baseline_bits_per_char"]
    assert base["bigram"] < base["unigram"] < base["uniform"]
    assert 2.5 < base["bigram"] < 3.6
    assert os.path.exists(os.path.join(os.path.dirname(mathdl.data.sequences.TEXT_FILE), "README.md"))


def test_reversal_reaches_99_percent_exact_sequence_accuracy_in_seconds():
    mathdl.manual_seed(0)
    spec = load_dataset("reverse", n_train=2000, n_test=500, length=6)
    model = SequenceTransformer(6, 10, d_model=32, nhead=4, num_layers=1, dim_feedforward=64)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    X, Y = spec.train.arrays
    Xt, Yt = spec.test.arrays
    rng = np.random.default_rng(0)
    acc = 0.0
    for step in range(300):
        i = rng.integers(0, len(X), 64)
        loss = F.cross_entropy(model(mathdl.tensor(X[i])).reshape(-1, 10), mathdl.tensor(Y[i]).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 19:
            model.eval()
            with mathdl.no_grad():
                acc = (model(mathdl.tensor(Xt)).numpy().argmax(-1) == Yt).all(axis=1).mean()
            model.train()
            if acc >= 0.99:
                break
    assert acc >= 0.99, f"exact-sequence accuracy {acc} after {step + 1} steps"


def test_seq2seq_variant_trains_with_teacher_forcing_and_decodes_greedily():
    mathdl.manual_seed(0)
    model = SequenceTransformer(4, 5, d_model=16, nhead=2, num_layers=1, dim_feedforward=32, arch="seq2seq")
    x = mathdl.tensor(np.array([[1, 2, 3, 4], [0, 1, 0, 2]]))
    logits = model(x, x)  # training mode with a target: teacher forcing
    assert logits.shape == (2, 4, 5)
    logits.sum().backward()
    assert model.tgt_embed.weight.grad is not None
    model.eval()
    assert model(x).shape == (2, 4, 5)


def test_classifier_on_digits_learns():
    mathdl.manual_seed(0)
    spec = load_dataset("digits")
    model = build_model("transformer", spec, d_model=32, nhead=4, num_layers=1, dim_feedforward=64, dropout=0.0,
                        max_tokens=8)
    assert isinstance(model, TransformerClassifier) and model.num_tokens == 8 and model.token_size == 8
    X, Y = spec.train.arrays
    opt = optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(80):
        i = rng.integers(0, len(X), 64)
        loss = F.cross_entropy(model(mathdl.tensor(X[i])), mathdl.tensor(Y[i]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    Xt, Yt = spec.test.arrays
    model.eval()
    with mathdl.no_grad():
        acc = (model(mathdl.tensor(Xt)).numpy().argmax(-1) == Yt).mean()
    assert acc > 0.8


def test_gpt_weight_tying_causality_and_generation():
    mathdl.manual_seed(0)
    model = GPT(vocab_size=11, block_size=8, d_model=16, nhead=2, num_layers=2, dropout=0.0)
    names = [n for n, _ in model.named_parameters()]
    assert not any("head" in n for n in names)  # the output layer is the embedding (tied)
    x = np.array([[1, 2, 3, 4, 5, 6]])
    a = model(mathdl.tensor(x)).numpy()
    x2 = x.copy()
    x2[0, 4:] = [9, 10]
    b = model(mathdl.tensor(x2)).numpy()
    np.testing.assert_allclose(a[0, :4], b[0, :4], atol=1e-6)  # no position sees the future
    assert not np.allclose(a[0, 4:], b[0, 4:])
    logits = model(mathdl.tensor(x))
    logits.sum().backward()
    assert model.tok_emb.weight.grad is not None
    # generation
    g1 = model.generate([1, 2], 10, temperature=0)
    g2 = model.generate([1, 2], 10, temperature=0)
    np.testing.assert_array_equal(g1, g2)
    assert len(g1) == 12 and g1[:2].tolist() == [1, 2]
    np.testing.assert_array_equal(model.generate([1, 2], 10, temperature=1.0, top_k=1, seed=5), g1)
    s1 = model.generate([3], 20, temperature=1.5, seed=7)
    s2 = model.generate([3], 20, temperature=1.5, seed=7)
    np.testing.assert_array_equal(s1, s2)
    assert not np.array_equal(s1, model.generate([3], 20, temperature=1.5, seed=8))
    assert len(model.generate(list(range(8)), 3, temperature=0)) == 11  # context cropped to block_size
    with pytest.raises(IndexError, match="token id 11 is out of range for a vocabulary of 11"):
        model(mathdl.tensor([[1, 11]]))
    with pytest.raises(ValueError, match="block_size=8"):
        model(mathdl.tensor(np.zeros((1, 9), dtype=np.int64)))
    with pytest.raises(ValueError, match="temperature"):
        model.generate([1], 2, temperature=-1)


def test_sample_next_top_k_and_top_p():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    rng = np.random.default_rng(0)
    assert sample_next(logits, 0) == 0
    draws = [sample_next(logits, 1.0, top_k=2, rng=rng) for _ in range(300)]
    assert set(draws) == {0, 1}
    draws = [sample_next(logits, 1.0, top_p=0.8, rng=rng) for _ in range(300)]
    assert set(draws) == {0, 1}  # 0.5 + 0.3 reaches 0.8
    draws = [sample_next(logits, 1.0, top_p=0.81, rng=rng) for _ in range(400)]
    assert set(draws) == {0, 1, 2}
    freq = np.bincount([sample_next(logits, 1.0, rng=rng) for _ in range(3000)], minlength=4) / 3000
    np.testing.assert_allclose(freq, [0.5, 0.3, 0.15, 0.05], atol=0.04)


def test_gpt_learns_text_below_bigram_quickly():
    """A tiny GPT on the first 12k characters beats the unigram baseline within a few dozen steps."""
    from mathdl.generate import bits_per_char

    mathdl.manual_seed(0)
    spec = load_dataset("text", block_size=32, max_chars=12000)
    model = build_model("gpt", spec, d_model=32, nhead=2, num_layers=1, dropout=0.0)
    X, Y = spec.train.arrays
    opt = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    before = bits_per_char(model, spec.test)
    for _ in range(60):
        i = rng.integers(0, len(X), 32)
        loss = F.cross_entropy(model(mathdl.tensor(X[i])).reshape(-1, spec.num_classes),
                               mathdl.tensor(Y[i]).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = bits_per_char(model, spec.test)
    base = spec.extra["baseline_bits_per_char"]
    assert before > base["uniform"] - 0.5
    assert after < base["unigram"], (after, base)
    assert math.isfinite(after)


def test_cli_train_generate_and_attention_maps(tmp_path, capsys):
    from mathdl.analysis.attention_maps import attention_maps
    from mathdl.analysis.attention_maps import main as maps_main
    from mathdl.cli import main

    out = tmp_path / "rev"
    rc = main(["train", "--model", "transformer", "--dataset", "reverse", "--epochs", "1", "--no-progress",
               "--no-plot", "--out", str(out), "--data-opt", "n_train=256", "--data-opt", "n_test=64",
               "--model-opt", "d_model=16", "--model-opt", "num_layers=1", "--model-opt", "dim_feedforward=32"])
    assert rc == 0
    ckpt = str(out / "checkpoint.safetensors")
    capsys.readouterr()
    assert main(["generate", "--checkpoint", ckpt, "--prompt", "31415926"]) == 0
    text = capsys.readouterr().out
    assert "input:  3 1 4 1 5 9 2 6" in text and "output:" in text
    png = tmp_path / "maps.png"
    assert maps_main(["--checkpoint", ckpt, "--prompt", "31415926", "--out", str(png)]) == 0
    assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"
    # the maps are proper attention distributions, one per layer
    from mathdl.generate import load_model

    model, spec, _ = load_model(ckpt)
    maps = attention_maps(model, np.array([[3, 1, 4, 1, 5, 9, 2, 6]]))
    assert len(maps) == 1 and maps[0][1].shape == (1, 4, 8, 8)
    np.testing.assert_allclose(maps[0][1].sum(-1), 1.0, atol=1e-5)

    lm = tmp_path / "lm"
    rc = main(["train", "--model", "gpt", "--dataset", "text", "--epochs", "1", "--no-progress", "--no-plot",
               "--out", str(lm), "--data-opt", "max_chars=3000", "--data-opt", "block_size=16",
               "--model-opt", "d_model=16", "--model-opt", "num_layers=1", "--model-opt", "nhead=2"])
    assert rc == 0
    capsys.readouterr()
    assert main(["generate", "--checkpoint", str(lm / "checkpoint.safetensors"), "--prompt", "And God",
                 "--max-new-tokens", "20", "--temperature", "0"]) == 0
    text = capsys.readouterr().out
    assert "held-out bits per character: model" in text and "bigram" in text
    assert "And God" in text
