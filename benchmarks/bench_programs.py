"""Public-program workloads, mathdl against PyTorch eager, each alone in a fresh process.

The same Python source runs on both libraries (mathdl keeps PyTorch's names), so these measure
programs as users write them, not hand-tuned mathdl code:

  gpt      a GPT in minGPT's style (Karpathy's minGPT, "gpt-nano": 3 layers, 3 heads, width 48,
           block 64, vocab 65, dropout 0.1, its tanh GELU written with ``torch.pow(x, 3.0)``,
           attention with an explicit causal mask and softmax), batch 32, AdamW
  mnist1d  the MNIST-1D CNN (Greydanus 2020: three Conv1d 25 channels, kernels 5, 3, 3, stride 2,
           ReLU, linear), batch 100, Adam
  lstm     a 2-layer LSTM (input 32, hidden 128, sequence 40, batch 32), last state to 10 classes, Adam

  python benchmarks/bench_programs.py [--threads 1,2] [--repeat 20] [--rounds 2] [--cases gpt,mnist1d,lstm]
  python benchmarks/bench_programs.py --profile gpt     (mathdl's hottest functions, cProfile)
  python benchmarks/bench_programs.py --ops [gpt,mnist1d,lstm]
                                     (each op of a workload on its shapes, fwd + bwd, vs torch)
"""

from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import isolated_main, set_threads_env_from_argv  # noqa: E402

set_threads_env_from_argv()

import numpy as np  # noqa: E402

CASES = {"gpt": "minGPT-style GPT (3 layers, 3 heads, width 48) step, batch 32x64",
         "mnist1d": "MNIST-1D CNN step, batch 100", "lstm": "2-layer LSTM (hidden 128, T 40) step, batch 32"}
VOCAB, BLOCK, WIDTH, HEADS, LAYERS, PDROP = 65, 64, 48, 3, 3, 0.1


def gpt_classes(lib):
    """minGPT's model, written against ``lib`` (torch or mathdl)."""
    nn, F = lib.nn, lib.nn.functional

    class NewGELU(nn.Module):
        def forward(self, x):
            return 0.5 * x * (1.0 + lib.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * lib.pow(x, 3.0))))

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(WIDTH, 3 * WIDTH)
            self.c_proj = nn.Linear(WIDTH, WIDTH)
            self.attn_dropout = nn.Dropout(PDROP)
            self.resid_dropout = nn.Dropout(PDROP)
            self.register_buffer("bias", lib.tril(lib.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))
            self.n_head, self.n_embd = HEADS, WIDTH

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            att = self.attn_dropout(att)
            y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(WIDTH)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(WIDTH)
            self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(WIDTH, 4 * WIDTH), c_proj=nn.Linear(4 * WIDTH, WIDTH),
                                          act=NewGELU(), dropout=nn.Dropout(PDROP)))
            m = self.mlp
            self.mlpf = lambda x: m.dropout(m.c_proj(m.act(m.c_fc(x))))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlpf(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(VOCAB, WIDTH), wpe=nn.Embedding(BLOCK, WIDTH), drop=nn.Dropout(PDROP),
                h=nn.ModuleList([Block() for _ in range(LAYERS)]), ln_f=nn.LayerNorm(WIDTH)))
            self.lm_head = nn.Linear(WIDTH, VOCAB, bias=False)

        def forward(self, idx, targets):
            b, t = idx.size()
            pos = lib.arange(0, t, dtype=lib.int64).unsqueeze(0)  # minGPT: torch.long (mathdl lacks the alias)
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)

    return GPT


def mnist1d_model(lib):
    nn = lib.nn

    class CNN(nn.Module):
        def __init__(self, c=25):
            super().__init__()
            self.conv1 = nn.Conv1d(1, c, 5, stride=2, padding=1)
            self.conv2 = nn.Conv1d(c, c, 3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(c, c, 3, stride=2, padding=1)
            self.linear = nn.Linear(c * 5, 10)

        def forward(self, x, y):
            h = x.view(-1, 1, 40)
            h = self.conv3(self.conv2(self.conv1(h).relu()).relu()).relu()
            return nn.functional.cross_entropy(self.linear(h.view(h.shape[0], -1)), y)

    return CNN()


def lstm_model(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(32, 128, num_layers=2, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, x, y):
            out, _ = self.lstm(x)
            return nn.functional.cross_entropy(self.head(out[:, -1]), y)

    return Net()


def _build(lib, case):
    lib.manual_seed(0)
    rng = np.random.default_rng(0)
    if case == "gpt":
        model = gpt_classes(lib)()
        idx = rng.integers(0, VOCAB, (32, BLOCK))
        data = (lib.tensor(idx), lib.tensor(np.roll(idx, -1, axis=1)))
        opt = lib.optim.AdamW(model.parameters(), lr=5e-4, betas=(0.9, 0.95), weight_decay=0.1)
    elif case == "mnist1d":
        model = mnist1d_model(lib)
        data = (lib.tensor(rng.standard_normal((100, 40)).astype(np.float32)), lib.tensor(rng.integers(0, 10, 100)))
        opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    else:
        model = lstm_model(lib)
        data = (lib.tensor(rng.standard_normal((32, 40, 32)).astype(np.float32)), lib.tensor(rng.integers(0, 10, 32)))
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    return model, data, opt


def make_step(framework, case):
    if framework == "torch":
        import torch as lib
    else:
        import mathdl as lib
    model, data, opt = _build(lib, case)
    if framework == "torch":  # start from mathdl's weights (same names), so the first losses agree
        import mathdl

        ref, _, _ = _build(mathdl, case)
        sd = {k: lib.tensor(np.ascontiguousarray(v.array)) for k, v in ref.state_dict().items()}
        model.load_state_dict(sd)
        opt = type(opt)(model.parameters(), **{k: v for k, v in opt.defaults.items()
                                                if k in ("lr", "betas", "weight_decay")})

    def step():
        opt.zero_grad()
        loss = model(*data)
        loss.backward()
        opt.step()
        return loss

    model.eval()  # first loss without dropout, comparable across libraries
    with lib.no_grad():
        first = float(model(*data).item())
    model.train()
    return step, first


def profile(case, steps=10):
    import cProfile
    import pstats

    step, _ = make_step("mathdl", case)
    step()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(steps):
        step()
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(20)


def _gpt_ops(lib):
    """The ops of the GPT step on its shapes: name -> (function of fresh inputs, input shapes)."""
    F = lib.nn.functional
    B, T, C = 32, BLOCK, WIDTH
    mask = lib.tril(lib.ones(T, T)).view(1, 1, T, T) == 0
    w_attn, w_fc, w_proj = lib.randn(3 * C, C), lib.randn(4 * C, C), lib.randn(C, 4 * C)
    ln_w, ln_b = lib.ones(C), lib.zeros(C)
    return {
        "linear 48->144 (c_attn)": (lambda x: F.linear(x, w_attn), [(B, T, C)]),
        "linear 48->192 (c_fc)": (lambda x: F.linear(x, w_fc), [(B, T, C)]),
        "linear 192->48 (c_proj)": (lambda x: F.linear(x, w_proj), [(B, T, 4 * C)]),
        "pow(x, 3.0)": (lambda x: lib.pow(x, 3.0), [(B, T, 4 * C)]),
        "tanh": (lambda x: lib.tanh(x), [(B, T, 4 * C)]),
        "mul (same shape)": (lambda x, y: x * y, [(B, T, 4 * C), (B, T, 4 * C)]),
        "scalar * x": (lambda x: 0.5 * x, [(B, T, 4 * C)]),
        "x + scalar": (lambda x: 1.0 + x, [(B, T, 4 * C)]),
        "q @ k^T": (lambda q, k: q @ k.transpose(-2, -1), [(B, HEADS, T, C // HEADS)] * 2),
        "att @ v": (lambda a, v: a @ v, [(B, HEADS, T, T), (B, HEADS, T, C // HEADS)]),
        "masked_fill": (lambda a: a.masked_fill(mask, float("-inf")), [(B, HEADS, T, T)]),
        "softmax": (lambda a: F.softmax(a, dim=-1), [(B, HEADS, T, T)]),
        "dropout 0.1": (lambda a: F.dropout(a, 0.1, True), [(B, HEADS, T, T)]),
        "transpose.contiguous.view": (lambda y: y.transpose(1, 2).contiguous().view(B, T, C), [(B, HEADS, T, C // 3)]),
        "layer_norm": (lambda x: F.layer_norm(x, (C,), ln_w, ln_b), [(B, T, C)]),
        "cross_entropy 65": (lambda z: F.cross_entropy(z.view(-1, VOCAB), lib.zeros(B * T, dtype=lib.int64)),
                             [(B, T, VOCAB)]),
    }


def _mnist1d_ops(lib):
    """The ops of the MNIST-1D CNN step on its shapes (batch 100, 25 channels)."""
    F = lib.nn.functional
    B, c = 100, 25
    w1, w2, w3 = lib.randn(c, 1, 5), lib.randn(c, c, 3), lib.randn(c, c, 3)
    b = lib.randn(c)
    w_lin = lib.randn(10, c * 5)
    return {
        "conv1d 1->25 k5 s2 (conv1)": (lambda x: F.conv1d(x, w1, b, stride=2, padding=1), [(B, 1, 40)]),
        "conv1d 25->25 k3 s2 (conv2)": (lambda x: F.conv1d(x, w2, b, stride=2, padding=1), [(B, c, 19)]),
        "conv1d 25->25 k3 s2 (conv3)": (lambda x: F.conv1d(x, w3, b, stride=2, padding=1), [(B, c, 10)]),
        "relu": (lambda x: x.relu(), [(B, c, 19)]),
        "linear 125->10": (lambda x: F.linear(x, w_lin), [(B, c * 5)]),
        "cross_entropy 10": (lambda z: F.cross_entropy(z, lib.zeros(B, dtype=lib.int64)), [(B, 10)]),
    }


def _lstm_ops(lib):
    """The ops of the LSTM step on its shapes (batch 32, sequence 40, hidden 128)."""
    F = lib.nn.functional
    lib.manual_seed(0)
    lstm = lib.nn.LSTM(32, 128, num_layers=2, batch_first=True)
    one = lib.nn.LSTM(128, 128, batch_first=True)
    w_fc = lib.randn(10, 128)
    return {
        "LSTM 2 layers 32->128, T 40": (lambda x: lstm(x)[0], [(32, 40, 32)]),
        "LSTM 1 layer 128->128, T 40": (lambda x: one(x)[0], [(32, 40, 128)]),
        "linear 128->10": (lambda x: F.linear(x, w_fc), [(32, 128)]),
        "cross_entropy 10": (lambda z: F.cross_entropy(z, lib.zeros(32, dtype=lib.int64)), [(32, 10)]),
    }


OP_TABLES = {"gpt": _gpt_ops, "mnist1d": _mnist1d_ops, "lstm": _lstm_ops}


def op_table(cases=("gpt", "mnist1d", "lstm"), repeat=30):
    """Forward + backward time of each op of a workload on its shapes, mathdl and torch at one thread
    in one process (one thread: no idle BLAS threads spinning), alternating; ratios > 2 are marked."""
    import torch
    from _timing import fmt, paired_times

    import mathdl
    import mathdl.parallel

    torch.set_num_threads(1)
    mathdl.parallel.set_num_threads(1)
    rng = np.random.default_rng(0)
    for case in cases:
        ours, theirs = OP_TABLES[case](mathdl), OP_TABLES[case](torch)
        print(f"{'op (' + case + ' shapes), forward + backward':<36} {'mathdl':>11} {'torch':>11}  ratio")
        for name, (fn, shapes) in ours.items():
            arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
            tfn = theirs[name][0]

            def run(lib, f, arrays=arrays):
                xs = [lib.tensor(a, requires_grad=True) for a in arrays]
                f(*xs).sum().backward()

            t_m, t_t = paired_times(lambda fn=fn: run(mathdl, fn), lambda tfn=tfn: run(torch, tfn), repeat=repeat)
            r = t_m / t_t
            print(f"{name:<36} {fmt(t_m)} {fmt(t_t)}  {r:5.2f}{'  <-- > 2x' if r > 2 else ''}")
        print()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--ops" in argv:
        rest = argv[argv.index("--ops") + 1:]
        cases = rest[0].split(",") if rest and not rest[0].startswith("-") else tuple(OP_TABLES)
        unknown = [c for c in cases if c not in OP_TABLES]
        if unknown:
            raise SystemExit(f"bench_programs: unknown --ops case(s) {unknown}; choose from {sorted(OP_TABLES)}")
        return op_table(cases)
    if "--profile" in argv:
        return profile(argv[argv.index("--profile") + 1])
    return isolated_main(__file__, CASES, make_step, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    main()
