"""The registered recurrent models and MNIST-1D baselines: PyTorch parity of the paper's models,
the LSTM language model's output contract and stateful generation, and the command line."""

import json

import numpy as np
import pytest

import mathdl as md
from mathdl import cli
from mathdl.data.registry import DatasetSpec
from mathdl.models import build_model

MNIST1D = DatasetSpec(None, None, (40,), 10)
TEXT = DatasetSpec(None, None, (16,), 12, task="language_model")


def _copy_to_torch(mm, tm, torch):
    tm.load_state_dict({k: torch.tensor(np.asarray(v.array)) for k, v in mm.state_dict().items()})


def test_paper_models_match_torch():
    """gru / mnist1d_mlp / mnist1d_cnn compute the functions of Greydanus & Kobak's PyTorch models."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    x = np.random.default_rng(0).standard_normal((5, 40)).astype(np.float32)
    xt = torch.tensor(x)

    md.manual_seed(0)
    gru = build_model("gru", MNIST1D)
    assert sum(p.array.size for p in gru.parameters()) == 5134
    tg = tnn.GRU(1, 6, batch_first=True, bidirectional=True)
    tl = tnn.Linear(480, 10)
    _copy_to_torch(gru.rnn, tg, torch)
    _copy_to_torch(gru.head, tl, torch)
    ref = tl(tg(xt.view(5, 40, 1), torch.zeros(2, 5, 6))[0].reshape(5, -1))
    np.testing.assert_allclose(gru(md.tensor(x)).array, ref.detach().numpy(), rtol=1e-4, atol=1e-5)

    mlp = build_model("mnist1d_mlp", MNIST1D)
    l1, l2, l3 = tnn.Linear(40, 100), tnn.Linear(100, 100), tnn.Linear(100, 10)
    for m, t in ((mlp.linear1, l1), (mlp.linear2, l2), (mlp.linear3, l3)):
        _copy_to_torch(m, t, torch)
    h = l1(xt).relu()
    ref = l3(h + l2(h).relu())
    np.testing.assert_allclose(mlp(md.tensor(x)).array, ref.detach().numpy(), rtol=1e-4, atol=1e-5)

    cnn = build_model("mnist1d_cnn", MNIST1D)
    convs = [tnn.Conv1d(1, 25, 5, stride=2, padding=1), tnn.Conv1d(25, 25, 3, stride=2, padding=1),
             tnn.Conv1d(25, 25, 3, stride=2, padding=1)]
    lin = tnn.Linear(125, 10)
    for m, t in zip((cnn.conv1, cnn.conv2, cnn.conv3, cnn.linear), convs + [lin]):
        _copy_to_torch(m, t, torch)
    h = xt.view(5, 1, 40)
    for c in convs:
        h = c(h).relu()
    ref = lin(h.reshape(5, -1))
    np.testing.assert_allclose(cnn(md.tensor(x)).array, ref.detach().numpy(), rtol=1e-4, atol=1e-5)

    logistic = build_model("mnist1d_logistic", MNIST1D)
    assert sum(p.array.size for p in logistic.parameters()) == 410


def test_lstm_language_model_contract_and_stateful_generation():
    md.manual_seed(0)
    lm = build_model("lstm", TEXT, embed_dim=8, hidden_size=16, num_layers=2)
    ids = np.random.default_rng(1).integers(0, 12, (3, 16))
    logits = lm(md.tensor(ids))
    assert logits.shape == (3, 16, 12)
    lm.eval()
    # generation carries the state: its step-by-step logits equal one pass over the whole sequence
    out = lm.generate(ids[0, :5], max_new_tokens=6, temperature=0)
    assert out.shape == (11,) and np.array_equal(out[:5], ids[0, :5])
    full = lm(md.tensor(out[None, :-1])).array[0]
    np.testing.assert_array_equal(full[4:].argmax(-1), out[5:])
    with pytest.raises(IndexError, match="token id 12 is out of range"):
        lm(md.tensor(np.full((1, 3), 12)))
    with pytest.raises(TypeError, match="integer token ids"):
        lm(md.tensor(np.zeros((1, 3))))


def test_wrong_task_errors():
    with pytest.raises(ValueError, match="language_model"):
        build_model("lstm", MNIST1D)
    with pytest.raises(ValueError, match="classification"):
        build_model("gru", TEXT)
    with pytest.raises(ValueError, match=r"shape \(T,\)"):
        build_model("gru", DatasetSpec(None, None, (3, 8, 8), 10))


def test_cli_trains_lstm_on_text_and_gru_on_mnist1d(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MATHDL_CACHE_DIR", str(tmp_path / "cache"))
    common = ["--no-progress", "--no-plot", "--epochs", "1"]
    code = cli.main(["train", "--model", "lstm", "--dataset", "text", "--out", str(tmp_path / "lm"), *common,
                     "--data-opt", "max_chars=6000", "--data-opt", "block_size=32",
                     "--model-opt", "hidden_size=32", "--model-opt", "embed_dim=16"])
    out = capsys.readouterr().out
    assert code == 0 and "test_bpc" in (tmp_path / "lm" / "metrics.csv").read_text(), out
    pytest.importorskip("mnist1d")
    code = cli.main(["train", "--model", "gru", "--dataset", "mnist1d", "--out", str(tmp_path / "gru"), *common,
                     "--data-opt", "num_samples=500"])
    assert code == 0 and "test_acc" in (tmp_path / "gru" / "metrics.csv").read_text()
    # the defaults that reach the paper's 91%: its Adam setup plus an L2 penalty of 1e-4
    cfg = json.loads((tmp_path / "gru" / "config.json").read_text())
    assert (cfg["optimizer"], cfg["lr"], cfg["batch_size"], cfg["scheduler"], cfg["weight_decay"]) == \
        ("adam", 1e-2, 100, "none", 1e-4)
