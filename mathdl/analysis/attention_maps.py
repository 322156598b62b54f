"""Attention maps: what each head of a trained transformer looks at.

For one input, every :class:`~mathdl.nn.MultiheadAttention` module records its weights
A[h, i, j] = softmax_j(q_i . k_j / sqrt(d) + mask) (row i: query position, column j: key position;
each row sums to 1).  :func:`save_attention_maps` draws them as a PNG grid with one row per
attention module (layer) and one column per head (matplotlib, Agg backend).

Command line (for checkpoints of ``mathdl train`` on sequence/text datasets)::

    python -m mathdl.analysis.attention_maps --checkpoint runs/.../checkpoint.safetensors \
        --prompt 31415926 --out attention.png
"""

from __future__ import annotations

import argparse

import numpy as np

__all__ = ["attention_maps", "plot_attention_grid", "save_attention_maps"]


def _attention_modules(model):
    from ..nn import MultiheadAttention

    return [(name, m) for name, m in model.named_modules() if isinstance(m, MultiheadAttention)]


def attention_maps(model, x):
    """[(module name, weights (N, H, L, S) array)] for one forward pass of ``model`` on ``x`` (eval mode)."""
    from .. import no_grad
    from ..autograd.tensor import Tensor

    mods = _attention_modules(model)
    if not mods:
        raise ValueError(f"attention_maps: {type(model).__name__} has no MultiheadAttention modules")
    was = model.training
    model.eval()
    for _, m in mods:
        m.store_attn_weights, m.last_attn_weights = True, None
    try:
        with no_grad():
            model(x if isinstance(x, Tensor) else Tensor._make(np.asarray(x)))
        return [(name, m.last_attn_weights) for name, m in mods if m.last_attn_weights is not None]
    finally:
        for _, m in mods:
            m.store_attn_weights = False
        model.train(was)


def plot_attention_grid(maps, path, query_tokens=None, key_tokens=None, example=0, title=None):
    """Save a (modules x heads) grid of heat maps of ``maps`` (from :func:`attention_maps`) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(maps)
    heads = max(w.shape[1] for _, w in maps)
    fig, axes = plt.subplots(rows, heads, figsize=(2.4 * heads + 0.6, 2.4 * rows + 0.6), squeeze=False)
    for r, (name, w) in enumerate(maps):
        for h in range(heads):
            ax = axes[r][h]
            if h >= w.shape[1]:
                ax.axis("off")
                continue
            a = w[example, h]
            ax.imshow(a, cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
            L, S = a.shape
            small = max(L, S) <= 24
            if small and key_tokens is not None and len(key_tokens) == S:
                ax.set_xticks(range(S))
                ax.set_xticklabels(key_tokens, fontsize=6)
            else:
                ax.set_xticks([])
            if small and query_tokens is not None and len(query_tokens) == L:
                ax.set_yticks(range(L))
                ax.set_yticklabels(query_tokens, fontsize=6)
            else:
                ax.set_yticks([])
            if r == 0:
                ax.set_title(f"head {h}", fontsize=8)
            if h == 0:
                ax.set_ylabel(name.replace(".self_attn", "").replace("blocks.", "").replace("encoder.", ""),
                              fontsize=7)
    fig.suptitle(title or "attention weights (rows: query position, columns: key position)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_attention_maps(model, x, path, tokens=None, title=None):
    """Run ``model`` on ``x`` (a batch; the first example is drawn) and save the grid PNG to ``path``."""
    maps = attention_maps(model, x)
    return plot_attention_grid(maps, path, tokens, tokens, 0, title)


def main(argv=None):
    from ..generate import _encode, load_model

    ap = argparse.ArgumentParser(prog="python -m mathdl.analysis.attention_maps", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--prompt", required=True, help="input: digits for reverse/sort, text for a language model")
    ap.add_argument("--out", default="attention.png")
    args = ap.parse_args(argv)
    model, spec, cfg = load_model(args.checkpoint)
    ids = _encode(args.prompt, spec)
    vocab = spec.extra["vocab"]
    tokens = [repr(vocab[int(i)])[1:-1] if isinstance(vocab, str) else vocab[int(i)] for i in ids]
    save_attention_maps(model, ids[None, :], args.out, tokens,
                        title=f"{cfg['model']} on {cfg['dataset']}: attention for {args.prompt!r}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
