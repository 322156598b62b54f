"""The `mathdl` command: help, one-line errors, train/evaluate files, determinism, resume, Ctrl-C, NaN."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

import mathdl
from mathdl import cli



@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Tiny matmuls: one BLAS thread is fastest, and avoids oversubscription under pytest -n 2."""
    with cli._blas_threads(1):
        yield

FAST = ["--no-progress", "--no-plot"]


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _params(path):
    return mathdl.load(path)["model"]


def _rows(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return list(csv.DictReader(f))


def _strip_time(rows):
    return [{k: v for k, v in r.items() if k != "time_s"} for r in rows]


# ----------------------------------------------------------------------------- help and errors
def test_help_subprocess_and_bad_option_one_line():
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "mathdl.cli", "--help"], capture_output=True, text=True, env=env)
    assert r.returncode == 0
    for word in ("train", "evaluate", "list"):
        assert word in r.stdout
    r = subprocess.run([sys.executable, "-m", "mathdl.cli", "train", "--bogus"], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert "unrecognized arguments: --bogus" in r.stderr


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_subcommand_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    expected = ["--model", "--dataset", "--epochs", "--batch-size", "--lr", "--optimizer", "--scheduler", "--seed",
                "--out", "--resume", "digits"] if command == "train" else ["--checkpoint", "--plot"]
    for flag in expected:
        assert flag in out


@pytest.mark.parametrize("argv, message", [
    (["train", "--dataset", "nope"], "unknown dataset 'nope'; available:"),
    (["train", "--model", "nope"], "unknown model 'nope'; available:"),
    (["train", "--epochs", "0"], "--epochs must be a positive integer"),
    (["train", "--lr", "-1"], "--lr must be a positive number"),
    (["train", "--model-opt", "hidden"], "--model-opt expects KEY=VALUE"),
    (["train", "--model-opt", "bogus=3", "--epochs", "1"], "bad --model-opt"),
    (["evaluate", "--checkpoint", "/nonexistent/ck.safetensors"], "no checkpoint file at"),
    (["train", "--optimizer", "nope"], "unknown optimizer 'nope'; available:"),
    (["train", "--threads", "-2"], "--threads must be a non-negative integer"),
    (["train", "--model", "cnn", "--dataset", "text"], "model 'cnn' cannot be trained on dataset 'text'"),
    (["train", "--optim-opt", "bogus=1"], "bad --optim-opt"),
])
def test_bad_names_give_one_line_error(capsys, tmp_path, argv, message):
    code, out, err = _run(capsys, *argv, *(["--out", str(tmp_path / "r")] + FAST if argv[0] == "train" else []))
    assert code == 2
    assert message in err and err.strip().count("\n") == 0


@pytest.mark.parametrize("argv", [["train", "--epochs", "abc"], ["frobnicate"]])
def test_argparse_errors_one_line_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "error:" in err


def test_unwritable_run_folder_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = _run(capsys, "train", "--out", str(blocker / "run"), *FAST)
    assert code == 2 and "cannot write the run folder" in err and err.strip().count("\n") == 0


def test_list(capsys):
    code, out, _ = _run(capsys, "list")
    assert code == 0 and "mlp" in out and "breast_cancer" in out


# ----------------------------------------------------------------------------- train / evaluate
def test_short_train_writes_files_and_evaluate(capsys, tmp_path):
    run = tmp_path / "run"
    code, out, err = _run(capsys, "train", "--epochs", "2", "--out", str(run))  # with progress bar and plot
    assert code == 0, err
    assert "final test accuracy: 0." in out
    assert "epoch 2/2" in err  # tqdm bar
    for name in ("checkpoint.safetensors", "metrics.csv", "curves.png", "config.json"):
        assert (run / name).exists()
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _rows(run)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"train_loss", "train_acc", "test_loss", "test_acc", "lr"} <= set(rows[0])
    state = mathdl.load(run / "checkpoint.safetensors")
    assert state["epoch"] == 2 and state["config"]["dataset"] == "digits" and "rng" in state
    assert len(state["metrics"]) == 2

    png = tmp_path / "cm.png"
    code, out, _ = _run(capsys, "evaluate", "--checkpoint", str(run / "checkpoint.safetensors"), "--plot", str(png))
    assert code == 0
    assert f"accuracy: {float(rows[-1]['test_acc']):.4f}" in out
    matrix_lines = out.split("confusion matrix (rows: true class, columns: predicted):\n")[1].splitlines()[1:11]
    matrix = np.array([[int(v) for v in line.split()[1:]] for line in matrix_lines])
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    assert abs(np.trace(matrix) / 360 - float(rows[-1]["test_acc"])) < 1e-9
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_same_seed_same_numbers(capsys, tmp_path):
    args = ["train", "--epochs", "2", "--model-opt", "dropout=0.2", "--seed", "3", *FAST]
    assert _run(capsys, *args, "--out", str(tmp_path / "a"))[0] == 0
    assert _run(capsys, *args, "--out", str(tmp_path / "b"))[0] == 0
    assert _strip_time(_rows(tmp_path / "a")) == _strip_time(_rows(tmp_path / "b"))
    pa, pb = _params(tmp_path / "a" / "checkpoint.safetensors"), _params(tmp_path / "b" / "checkpoint.safetensors")
    for k in pa:
        assert pa[k].array.tobytes() == pb[k].array.tobytes()
    assert _run(capsys, *args[:-4], "--seed", "4", *FAST, "--out", str(tmp_path / "c"))[0] == 0
    pc = _params(tmp_path / "c" / "checkpoint.safetensors")
    assert not np.array_equal(pa["net.1.weight"].array, pc["net.1.weight"].array)


def test_resume_continues_identically(capsys, tmp_path):
    common = ["--model-opt", "dropout=0.2", "--scheduler", "none", "--seed", "1", *FAST]
    assert _run(capsys, "train", "--epochs", "4", *common, "--out", str(tmp_path / "full"))[0] == 0
    assert _run(capsys, "train", "--epochs", "2", *common, "--out", str(tmp_path / "part"))[0] == 0
    ck = str(tmp_path / "part" / "checkpoint.safetensors")
    code, out, err = _run(capsys, "train", "--resume", ck, "--epochs", "4", *FAST)
    assert code == 0, err
    full, part = _params(tmp_path / "full" / "checkpoint.safetensors"), _params(ck)
    for k in full:
        assert full[k].array.tobytes() == part[k].array.tobytes(), k
    assert _strip_time(_rows(tmp_path / "full")) == _strip_time(_rows(tmp_path / "part"))
    # a resume that contradicts the checkpoint is refused in one line
    code, _, err = _run(capsys, "train", "--resume", ck, "--dataset", "iris", *FAST)
    assert code == 2 and "does not match the checkpoint" in err


def test_ctrl_c_keeps_checkpoint_and_resume_matches(capsys, tmp_path, monkeypatch):
    common = ["--epochs", "3", "--model-opt", "dropout=0.1", "--seed", "2", *FAST]
    assert _run(capsys, "train", *common, "--out", str(tmp_path / "full"))[0] == 0
    real_eval, calls = cli.run_epoch_eval, []

    def interrupt_in_epoch_2(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_eval(*a, **k)

    monkeypatch.setattr(cli, "run_epoch_eval", interrupt_in_epoch_2)
    code, out, err = _run(capsys, "train", *common, "--out", str(tmp_path / "cut"))
    monkeypatch.undo()
    ck = tmp_path / "cut" / "checkpoint.safetensors"
    assert code == 130
    assert "checkpoint of epoch 1 is intact" in err and f"resume with: mathdl train --resume {ck}" in err
    assert mathdl.load(ck)["epoch"] == 1
    assert _run(capsys, "train", "--resume", str(ck), *FAST)[0] == 0
    full = _params(tmp_path / "full" / "checkpoint.safetensors")
    resumed = _params(ck)
    for k in full:
        assert full[k].array.tobytes() == resumed[k].array.tobytes(), k


def test_nan_loss_stops_with_epoch_and_step(capsys, tmp_path):
    code, out, err = _run(capsys, "train", "--lr", "1e6", "--optimizer", "sgd", "--epochs", "3", *FAST,
                          "--out", str(tmp_path / "nan"))
    assert code == 1
    assert "loss became" in err and "at epoch 1, step" in err and "smaller --lr" in err
    assert "final test accuracy" not in out


def test_corrupt_checkpoint_resume_is_one_line(capsys, tmp_path):
    bad = tmp_path / "checkpoint.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    code, _, err = _run(capsys, "train", "--resume", str(bad), *FAST)
    assert code == 2 and "corrupt" in err and err.strip().count("\n") == 0


def test_regression_dataset(capsys, tmp_path):
    code, out, err = _run(capsys, "train", "--dataset", "diabetes", "--epochs", "3", *FAST,
                          "--out", str(tmp_path / "r"))
    assert code == 0, err
    assert "final test R^2" in out
    r2 = float(_rows(tmp_path / "r")[-1]["test_r2"])
    assert 0.2 < r2 < 0.8


# ----------------------------------------------------------------------------- stated accuracies
@pytest.mark.parametrize("dataset, epochs, batch_size, target", [
    ("digits", 10, 64, 0.95),
    ("breast_cancer", 8, 32, 0.94),
])
def test_training_reaches_stated_accuracy(tmp_path, dataset, epochs, batch_size, target):
    cfg = dict(cli.DEFAULTS, dataset=dataset, epochs=epochs, batch_size=batch_size, scheduler="cosine",
               model_options={}, data_options={})
    history = cli.train(cfg, str(tmp_path), progress=False, plot=False, log=lambda *a: None)
    assert history[-1]["test_acc"] >= target, history[-1]
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_mismatched_checkpoint_is_one_line(capsys, tmp_path):
    run = tmp_path / "m"
    assert _run(capsys, "train", "--epochs", "1", *FAST, "--out", str(run))[0] == 0
    ck = run / "checkpoint.safetensors"
    state = mathdl.load(ck)
    state["model"]["net.1.weight"] = mathdl.zeros(3, 3)
    mathdl.save(state, ck)
    code, _, err = _run(capsys, "evaluate", "--checkpoint", str(ck))
    assert code == 2 and err.strip().count("\n") == 0
    assert "does not fit" in err and "net.1.weight: checkpoint shape (3, 3), model shape (256, 64)" in err


# ----------------------------------------------------------------------------- extensions of train
@pytest.mark.parametrize("method", ["bbb", "laplace", "swag"])
def test_bayes_training_and_uncertainty_evaluation(capsys, tmp_path, method):
    run = tmp_path / method
    code, _, err = _run(capsys, "train", "--bayes", method, "--epochs", "2", "--out", str(run), *FAST)
    assert code == 0, err
    assert (run / "bayes.safetensors").exists()
    code, out, err = _run(capsys, "evaluate", "--uncertainty", "--checkpoint", str(run / "checkpoint.safetensors"))
    assert code == 0, err
    assert "ece" in out and "nll" in out and (run / "reliability.png").exists()


def test_bayes_bad_model_is_one_line(capsys, tmp_path):
    code, _, err = _run(capsys, "train", "--bayes", "mc-dropout", "--epochs", "1", "--out", str(tmp_path / "r"), *FAST)
    assert code == 2 and "no dropout layer" in err and err.strip().count("\n") == 0


@pytest.mark.parametrize("opt", ["lbfgs", "newton", "kfac", "lookahead-sgd"])
def test_second_order_optimizers_train(capsys, tmp_path, opt):
    lr = ["--lr", "0.1"] if opt == "lookahead-sgd" else []  # the others bring their own default
    code, out, err = _run(capsys, "train", "--optimizer", opt, "--epochs", "1", "--model-opt", "hidden=16,",
                          *lr, "--out", str(tmp_path / opt), *FAST)
    assert code == 0, err
    acc = float(out.split("final test accuracy:")[1].split()[0])
    assert acc > 0.5, f"{opt} reached only {acc}"


def test_amp_bf16_trains_and_device_cuda_refused_without_gpu(capsys, tmp_path):
    code, out, err = _run(capsys, "train", "--amp", "bf16", "--epochs", "2", "--out", str(tmp_path / "amp"), *FAST)
    assert code == 0, err
    assert float(out.split("final test accuracy:")[1].split()[0]) > 0.8
    from mathdl.backend import cuda_is_available

    if not cuda_is_available():
        code, _, err = _run(capsys, "train", "--device", "cuda", "--epochs", "1", "--out", str(tmp_path / "g"), *FAST)
        assert code == 2 and "no GPU" in err


def test_amp_fp16_reaches_float32_accuracy(capsys, tmp_path):
    accs = {}
    for amp in ("none", "fp16"):
        code, out, err = _run(capsys, "train", "--amp", amp, "--epochs", "4", "--out", str(tmp_path / amp), *FAST)
        assert code == 0, err
        accs[amp] = float(out.split("final test accuracy:")[1].split()[0])
    assert abs(accs["fp16"] - accs["none"]) <= 0.005, accs
