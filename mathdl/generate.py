"""``mathdl generate``: run a trained sequence model on a prompt.

For a language model (``--dataset text``) it continues the prompt character by character
(:meth:`mathdl.models.transformer.GPT.generate`: greedy at ``--temperature 0``, else sampling with
``--top-k`` / ``--top-p`` and a ``--seed``), and first prints the held-out bits per character,
  bpc = mean over held-out characters of -log2 p(x_{t+1} | x_<=t) = cross-entropy (nats) / ln 2,
next to the bigram, unigram and uniform baselines of the same split.  For a sequence task
(``reverse``, ``sort``) the prompt is a digit string and the model's output sequence is printed.

The CLI (``mathdl.cli``) calls :func:`add_parser` and :func:`run`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["add_parser", "run", "load_model", "bits_per_char"]


def add_parser(subparsers):
    p = subparsers.add_parser(
        "generate", help="continue a prompt with a trained language model (or run a sequence model)",
        description="Load a checkpoint written by 'mathdl train' for a language_model or sequence dataset; print "
                    "held-out bits per character against the bigram baseline, then the continuation of --prompt.")
    p.add_argument("--checkpoint", required=True, help="checkpoint.safetensors written by 'mathdl train'")
    p.add_argument("--prompt", default="\n", help="text to continue (digits for reverse/sort)")
    p.add_argument("--max-new-tokens", type=int, default=300, help="characters to generate (default 300)")
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy; default 0.8")
    p.add_argument("--top-k", type=int, default=None, help="sample only among the k most likely tokens")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling: smallest set with this probability")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampler (default 0)")
    p.add_argument("--no-eval", action="store_true", help="skip the held-out bits-per-character evaluation")
    return p


def load_model(checkpoint):
    """(model in eval mode, dataset spec, config) from a training checkpoint."""
    from . import data, models  # noqa: F401  (registration)
    from .data.registry import load_dataset
    from .models.registry import build_model
    from .serialization import load

    state = load(checkpoint)
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise ValueError(f"{checkpoint!r} is not a training checkpoint written by 'mathdl train'")
    cfg = state["config"]
    spec = load_dataset(cfg["dataset"], **(cfg.get("data_options") or {}))
    model = build_model(cfg["model"], spec, **(cfg.get("model_options") or {}))
    model.load_state_dict(state["model"])
    model.eval()
    return model, spec, cfg


def bits_per_char(model, dataset, batch_size=64):
    """Mean -log2 p(target | context) of ``model`` over every target of ``dataset`` (no grad)."""
    from . import no_grad
    from .autograd.tensor import Tensor
    from .nn import functional as F

    was = model.training
    model.eval()
    total, count = 0.0, 0
    x_all, y_all = dataset.arrays[0], dataset.arrays[1]
    with no_grad():
        for s in range(0, len(x_all), batch_size):
            x, y = x_all[s:s + batch_size], y_all[s:s + batch_size]
            logits = model(Tensor._make(x))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Tensor._make(y.reshape(-1)),
                                   reduction="sum")
            total += float(loss.item())
            count += y.size
    model.train(was)
    return total / count / math.log(2)


def _encode(prompt, spec):
    vocab = spec.extra.get("vocab")
    if vocab is None:
        raise ValueError("generate: this dataset has no vocabulary (spec.extra['vocab'])")
    if isinstance(vocab, str):
        from .data.sequences import encode_text

        return encode_text(prompt, vocab)
    index = {s: i for i, s in enumerate(vocab)}
    toks = list(prompt.replace(" ", "").replace(",", ""))
    bad = [t for t in toks if t not in index]
    if bad:
        raise ValueError(f"generate: prompt characters {bad} are not in the vocabulary {vocab}")
    return np.array([index[t] for t in toks], dtype=np.int64)


def _decode(ids, spec):
    vocab = spec.extra["vocab"]
    return "".join(vocab[int(i)] for i in ids) if isinstance(vocab, str) else " ".join(vocab[int(i)] for i in ids)


def run(args):
    from . import no_grad
    from .autograd.tensor import Tensor

    try:
        model, spec, cfg = load_model(args.checkpoint)
    except (FileNotFoundError, ValueError) as e:
        print(f"mathdl generate: error: {e}")
        return 2
    try:
        ids = _encode(args.prompt, spec)
    except (KeyError, ValueError) as e:
        print(f"mathdl generate: error: {e}")
        return 2
    if spec.task == "sequence":
        L = spec.input_shape[0]
        if ids.size != L:
            print(f"mathdl generate: error: the {cfg['dataset']} model takes exactly {L} digits, got {ids.size}")
            return 2
        with no_grad():
            out = np.asarray(model(Tensor._make(ids[None, :])).array).argmax(-1)[0]
        print(f"input:  {_decode(ids, spec)}")
        print(f"output: {_decode(out, spec)}")
        return 0
    if spec.task != "language_model" or not hasattr(model, "generate"):
        print(f"mathdl generate: error: the checkpoint's model ({cfg['model']}) on {cfg['dataset']} "
              f"(task {spec.task}) is not a language model")
        return 2
    if not args.no_eval:
        bpc = bits_per_char(model, spec.test)
        base = spec.extra.get("baseline_bits_per_char", {})
        print(f"held-out bits per character: model {bpc:.3f}"
              + "".join(f", {k} {v:.3f}" for k, v in base.items()))
    try:
        out = model.generate(ids, args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                             top_p=args.top_p, seed=args.seed)
    except ValueError as e:
        print(f"mathdl generate: error: {e}")
        return 2
    print(_decode(out, spec))
    return 0
