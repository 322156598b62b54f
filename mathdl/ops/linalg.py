"""Matrix products: matmul (and mm, bmm, dot, outer) and einsum.

  C = A B (batched, broadcasting over leading axes):
      dL/dA = sum_to(G B^T, A.shape),   dL/dB = sum_to(A^T G, B.shape)
  1-D operands are promoted to matrices (a row for the left, a column for the right) and the
  added axis is removed afterwards, as NumPy and PyTorch do.

  einsum: linear in each operand, so  dL/dx_k = einsum(g, the other operands -> s_k)  (details
  at ``Einsum``); two-operand contractions run as one batched BLAS matmul.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..amp.autocast_mode import _state as _amp, cast_lower
from ..autograd.tensor import Tensor
from ..backend import bfloat16, xp_of
from .elementwise import _pair
from .shape import reshape, sum_to, transpose

_make = Tensor._make


def _bfloat16_product(fn, arrays):
    """bfloat16 has no BLAS or einsum kernel in NumPy: compute in float32 and round the result to
    bfloat16, as PyTorch's bfloat16 products return bfloat16 (float32 accumulation either way)."""
    return fn(*[x.astype(np.float32) for x in arrays]).astype(bfloat16)


class MatMul(Function):
    __slots__ = ()

    def forward(self, a, b):
        if a.dtype == bfloat16:
            return _bfloat16_product(lambda x, y: x @ y, (a, b))
        return a @ b

    def backward(self, g):
        a, b = self.inputs
        ga = gb = None
        if a.requires_grad:
            ga = sum_to(matmul(g, transpose(b, -1, -2)), a.shape)
        if b.requires_grad:
            if b.ndim == 2 and a.ndim == 2 and b.array.flags.f_contiguous and not b.array.flags.c_contiguous:
                # b is a transposed view (x @ w.T): produce w's gradient C-contiguous, (g^T a)^T
                gb = transpose(matmul(transpose(g, -1, -2), a), -1, -2)
            else:
                gb = sum_to(matmul(transpose(a, -1, -2), g), b.shape)
        return ga, gb


def matmul(a, b):
    a, b = _pair(a, b)
    if _amp.dtype is not None:  # autocast: matrix products compute in the low precision
        a, b = cast_lower(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if a.ndim >= 2 and b.ndim >= 2:
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align "
                             f"({a.shape[-1]} != {b.shape[-2]})")
        try:
            return MatMul()(a, b)
        except ValueError:
            raise _batch_error(a, b) from None
    va, vb = a.ndim == 1, b.ndim == 1
    a2 = reshape(a, (1, a.shape[0])) if va else a
    b2 = reshape(b, (b.shape[0], 1)) if vb else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align "
                         f"({a2.shape[-1]} != {b2.shape[-2]})")
    try:
        out = MatMul()(a2, b2)
    except ValueError:
        raise _batch_error(a, b) from None
    shape = out.shape
    if va:
        shape = shape[:-2] + shape[-1:]
    if vb:
        shape = shape[:-1]
    return reshape(out, shape)


def _batch_error(a, b):
    return ValueError(f"matmul: the batch dimensions of shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                      "broadcast together")


def mm(a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expected 2-D matrices, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def bmm(a, b):
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(f"bmm: expected 3-D batches, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def dot(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expected 1-D vectors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def outer(a, b):
    from .elementwise import mul

    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


# --------------------------------------------------------------------------- einsum
# Einstein summation  out[o] = sum over the other letters of  prod_k  x_k[s_k].
# It is linear in each operand, so the gradient of operand k is again an einsum: the product of
# the output gradient g (subscripts o) with the other operands, keeping the letters s_k:
#     dL/dx_k = einsum(o, s_1, .., s_{k-1}, s_{k+1}, .. -> s_k)(g, x_1, ...)
# Three details make this total: a letter of s_k found in no other term (summed away in the
# forward) enters as a ones vector, i.e. the gradient is broadcast along it; a letter repeated
# inside s_k (a diagonal, 'ii->i') is written on the diagonal through identity matrices,
# einsum(u, I_cd -> s_k); and a dimension of size 1 that broadcast is summed back (sum_to).

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_parse(equation, shapes):
    """Normalize an equation to explicit letters: no '...', explicit output.

    Returns (input subscripts, output subscripts, {letter: size}).
    """
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
        explicit = True
    else:
        lhs, out, explicit = eq, "", False
    subs = lhs.split(",")
    if len(subs) != len(shapes):
        raise ValueError(f"einsum: equation {equation!r} has {len(subs)} operand subscripts but "
                         f"{len(shapes)} operands were given")
    for s in subs + [out]:
        bad = set(s.replace("...", "")) - set(_LETTERS)
        if bad or s.count("...") > 1:
            raise ValueError(f"einsum: invalid subscript {s!r} in {equation!r} (letters a-z, A-Z and "
                             "at most one '...' per operand)")
    used = set(eq) & set(_LETTERS)
    free = [c for c in _LETTERS if c not in used]
    # ellipsis: right-aligned broadcast dimensions get fresh letters
    n_ell = 0
    for s, shp in zip(subs, shapes):
        if "..." in s:
            n = len(shp) - (len(s) - 3)
            if n < 0:
                raise ValueError(f"einsum: subscript {s!r} has more letters than operand shape {tuple(shp)}")
            n_ell = max(n_ell, n)
    if n_ell > len(free):
        raise ValueError("einsum: too many dimensions for '...'")
    ell = "".join(free[:n_ell])
    new_subs = []
    for s, shp in zip(subs, shapes):
        if "..." in s:
            n = len(shp) - (len(s) - 3)
            s = s.replace("...", ell[n_ell - n:])
        if len(s) != len(shp):
            raise ValueError(f"einsum: subscript {s!r} names {len(s)} dimensions but the operand has shape "
                             f"{tuple(shp)}")
        new_subs.append(s)
    if explicit:
        if "..." in out:
            out = out.replace("...", ell)
        elif ell:
            # like NumPy: '...' dimensions not in an explicit output are summed
            pass
    else:
        counts = {}
        for s in new_subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    if len(set(out)) != len(out):
        raise ValueError(f"einsum: output subscript {out!r} repeats a letter; repeated output indices "
                         "(writing a diagonal) are not supported")
    sizes = {}
    for s, shp in zip(new_subs, shapes):
        for c, n in zip(s, shp):
            m = sizes.get(c)
            if m is None or m == 1:
                sizes[c] = n
            elif n != 1 and n != m:
                raise ValueError(f"einsum: index {c!r} has size {m} in one operand and {n} in another "
                                 f"(equation {equation!r}, shapes {[tuple(x) for x in shapes]})")
    for c in out:
        if c not in sizes:
            raise ValueError(f"einsum: output index {c!r} appears in no operand of {equation!r}")
    return new_subs, out, sizes


class Einsum(Function):
    __slots__ = ("subs", "out", "sizes")

    def __init__(self, subs, out, sizes):
        self.subs, self.out, self.sizes = subs, out, sizes

    def forward(self, *arrays):
        if arrays[0].dtype == bfloat16:
            return _bfloat16_product(self._forward, arrays)
        return self._forward(*arrays)

    def _forward(self, *arrays):
        xp = xp_of(arrays[0])
        if len(arrays) == 2 and arrays[0].size * arrays[1].size > 4096:
            out = _contract_by_matmul(xp, arrays[0], arrays[1], self.subs[0], self.subs[1], self.out)
            if out is not None:
                return out
        eq = ",".join(self.subs) + "->" + self.out
        return xp.einsum(eq, *arrays, optimize=len(arrays) > 2)

    def backward(self, g):
        grads = []
        inputs = self.inputs
        for k, t in enumerate(inputs):
            if not t.requires_grad:
                grads.append(None)
                continue
            sk = self.subs[k]
            uniq = "".join(dict.fromkeys(sk))
            terms = [self.out] + [s for j, s in enumerate(self.subs) if j != k]
            ops = [g] + [x for j, x in enumerate(inputs) if j != k]
            avail = set("".join(terms))
            for c in uniq:
                if c not in avail:
                    terms.append(c)
                    ops.append(_const("ones", self.sizes[c], g))
            h = _einsum_normalized(terms, uniq, self.sizes, ops)
            if len(uniq) < len(sk):  # repeated letters: put h on the diagonals
                used = set("".join(self.subs) + self.out)
                fresh = iter(c for c in _LETTERS if c not in used)
                seen, full, eterms, eops = set(), [], [], []
                for c in sk:
                    if c in seen:
                        d = next(fresh)
                        full.append(d)
                        eterms.append(c + d)
                        eops.append(_const("eye", self.sizes[c], g))
                    else:
                        seen.add(c)
                        full.append(c)
                sizes = dict(self.sizes)
                sizes.update({e[1]: self.sizes[e[0]] for e in eterms})
                h = _einsum_normalized([uniq] + eterms, "".join(full), sizes, [h] + eops)
            grads.append(sum_to(h, t.shape))
        return tuple(grads)


def _contract_by_matmul(xp, a, b, sa, sb, out):
    """A two-operand einsum as one batched BLAS matmul: letters in both operands and the output
    are the batch, letters in both but not the output are contracted.  Returns None for what
    this path does not cover (repeated letters, broadcasting size-1 dimensions)."""
    if len(set(sa)) != len(sa) or len(set(sb)) != len(sb):
        return None
    size = {}
    for s, arr in ((sa, a), (sb, b)):
        for c, n in zip(s, arr.shape):
            if size.setdefault(c, n) != n:
                return None
    # letters found in one operand only and not in the output are summed first
    only_a = [i for i, c in enumerate(sa) if c not in sb and c not in out]
    if only_a:
        a = a.sum(axis=tuple(only_a))
        sa = "".join(c for i, c in enumerate(sa) if i not in only_a)
    only_b = [i for i, c in enumerate(sb) if c not in sa and c not in out]
    if only_b:
        b = b.sum(axis=tuple(only_b))
        sb = "".join(c for i, c in enumerate(sb) if i not in only_b)
    batch = [c for c in out if c in sa and c in sb]
    contr = [c for c in sa if c in sb and c not in out]
    left = [c for c in sa if c not in sb]
    right = [c for c in sb if c not in sa]
    a2 = a.transpose([sa.index(c) for c in batch + left + contr])
    b2 = b.transpose([sb.index(c) for c in batch + contr + right])
    nb = [size[c] for c in batch]
    m = int(np.prod([size[c] for c in left]))
    k = int(np.prod([size[c] for c in contr]))
    n = int(np.prod([size[c] for c in right]))
    r = a2.reshape(nb + [m, k]) @ b2.reshape(nb + [k, n])
    r = r.reshape(nb + [size[c] for c in left] + [size[c] for c in right])
    order = batch + left + right
    return r.transpose([order.index(c) for c in out])


def _const(kind, n, like):
    """A constant ones vector or identity matrix with ``like``'s dtype and device."""
    xp = xp_of(like.array)
    arr = xp.ones(n, dtype=like.dtype) if kind == "ones" else xp.eye(n, dtype=like.dtype)
    return _make(arr)


def _einsum_normalized(subs, out, sizes, tensors):
    return Einsum(list(subs), out, {c: sizes[c] for c in set("".join(subs))})(*tensors)


def einsum(equation, *operands):
    """Einstein summation over mathdl tensors (NumPy/PyTorch syntax, '...' and implicit output
    included): ``einsum('bij,bjk->bik', a, b)``.  Differentiable in every operand."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: at least one operand is required")
    if _amp.dtype is not None:
        operands = cast_lower(*operands)
    for i, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum: operand {i} is a {type(x).__name__}, expected a Tensor")
    subs, out, sizes = _einsum_parse(equation, [x.shape for x in operands])
    summed = set("".join(subs)) - set(out)
    if summed and any(x.array.dtype.kind == "b" for x in operands):  # sums of booleans count, in int64
        operands = tuple(_make(x.array.astype(np.int64)) if x.array.dtype.kind == "b" else x for x in operands)
    return Einsum(subs, out, sizes)(*operands)


# --------------------------------------------------------------------------- products built on matmul / einsum
def mv(a, v):
    """Matrix-vector product A v."""
    if a.ndim != 2 or v.ndim != 1:
        raise ValueError(f"mv: expected a matrix and a vector, got shapes {tuple(a.shape)} and {tuple(v.shape)}")
    return matmul(a, v)


def inner(a, b):
    """sum over the last dimension of a and b: out[i.., j..] = sum_k a[i.., k] b[j.., k]."""
    from .elementwise import mul

    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    return tensordot(a, b, ([-1], [-1]))


vdot = dot


def tensordot(a, b, dims=2):
    """Contract the last ``dims`` dimensions of a with the first ``dims`` of b (or the listed
    pairs of dimensions ``dims=([a dims], [b dims])``), as one matmul of reshaped operands."""
    from .shape import permute

    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise ValueError(f"tensordot: dims must be non-negative, got {dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, (int, np.integer)) else list(da)
        db = [db] if isinstance(db, (int, np.integer)) else list(db)
    da = [d % a.ndim for d in da] if a.ndim else da
    db = [d % b.ndim for d in db] if b.ndim else db
    if len(da) != len(db):
        raise ValueError(f"tensordot: both operands need as many contracted dims, got {da} and {db}")
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: contracted dimensions differ in size: {a.shape[i]} (dim {i} of a) vs "
                             f"{b.shape[j]} (dim {j} of b)")
    fa = [i for i in range(a.ndim) if i not in da]
    fb = [j for j in range(b.ndim) if j not in db]
    k = int(np.prod([a.shape[i] for i in da]))
    a2 = reshape(permute(a, tuple(fa + da)), (int(np.prod([a.shape[i] for i in fa])), k))
    b2 = reshape(permute(b, tuple(db + fb)), (k, int(np.prod([b.shape[j] for j in fb]))))
    return reshape(matmul(a2, b2), tuple(a.shape[i] for i in fa) + tuple(b.shape[j] for j in fb))


def kron(a, b):
    """The Kronecker product: blocks a[i, j] b (any number of dimensions)."""
    from .elementwise import mul

    n = max(a.ndim, b.ndim)
    sa = (1,) * (n - a.ndim) + tuple(a.shape)
    sb = (1,) * (n - b.ndim) + tuple(b.shape)
    ia = tuple(v for s in sa for v in (s, 1))
    ib = tuple(v for s in sb for v in (1, s))
    return reshape(mul(reshape(a, ia), reshape(b, ib)), tuple(x * y for x, y in zip(sa, sb)))


def cdist(x1, x2, p=2.0, compute_mode=None):
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M) -> (..., P, R);
    the gradient at zero distance is 0, as PyTorch."""
    from .reduce import norm
    from .shape import unsqueeze

    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: expected (..., P, M) and (..., R, M) with equal M, got {tuple(x1.shape)} and "
                         f"{tuple(x2.shape)}")
    if p < 0:
        raise ValueError(f"cdist: p must be non-negative, got {p}")
    from .elementwise import sub

    diff = sub(unsqueeze(x1, -2), unsqueeze(x2, -3))
    return norm(diff, p, dim=-1)


def _beta_alpha(inp, prod, beta, alpha):
    from .elementwise import add, mul

    if prod.array.dtype.kind in "iu":  # integer products keep integer scale factors, as PyTorch
        beta, alpha = int(beta), int(alpha)

    if alpha != 1:
        prod = mul(prod, alpha)
    if beta == 0:  # PyTorch ignores inp (even NaN in it) when beta is 0
        return add(prod, _zeros_like(inp, prod))
    return add(mul(inp, beta) if beta != 1 else inp, prod)


def _zeros_like(inp, prod):
    shape = np.broadcast_shapes(inp.shape, prod.shape)
    return _make(xp_of(prod.array).zeros(shape, dtype=prod.dtype))


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta input + alpha mat1 @ mat2."""
    return _beta_alpha(input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta input + alpha mat @ vec."""
    return _beta_alpha(input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta input + alpha outer(vec1, vec2)."""
    return _beta_alpha(input, outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta input + alpha batch1 @ batch2 (batched)."""
    return _beta_alpha(input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta input + alpha sum_b batch1[b] @ batch2[b]."""
    from .reduce import sum as _sum

    return _beta_alpha(input, _sum(bmm(batch1, batch2), 0), beta, alpha)


def chain_matmul(*matrices):
    """The product of the matrices, left to right."""
    ms = list(matrices[0]) if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)) else list(matrices)
    if not ms:
        raise ValueError("chain_matmul: expected at least one matrix")
    out = ms[0]
    for m in ms[1:]:
        out = mm(out, m)
    return out


# --------------------------------------------------------------------------- torch.* names of mathdl.linalg functions
def _la():
    import mathdl.linalg as la

    return la


def det(A):
    """det(A) (torch.det; see mathdl.linalg.det)."""
    return _la().det(A)


def slogdet(A):
    """(sign, log|det A|) (torch.slogdet)."""
    return _la().slogdet(A)


def logdet(A):
    """log det A: NaN where det A < 0, -inf where it is 0 (torch.logdet)."""
    from .elementwise import add, log

    sign, logabs = _la().slogdet(A)
    return add(logabs, log(sign.detach() if hasattr(sign, "detach") else sign))


def inverse(A):
    """A^-1 (torch.inverse)."""
    return _la().inv(A)


def pinverse(A, rcond=1e-15):
    """The Moore-Penrose pseudo-inverse (torch.pinverse)."""
    return _la().pinv(A, rtol=rcond)


def matrix_exp(A):
    return _la().matrix_exp(A)


def matrix_power(A, n):
    return _la().matrix_power(A, n)


def svd(A, some=True, compute_uv=True):
    """torch.svd: (U, S, V) with A = U diag(S) V^T (V, not V^T; reduced when ``some``)."""
    from .shape import transpose

    U, S, Vh = _la().svd(A, full_matrices=not some)
    return U, S, transpose(Vh, -2, -1)


def cross(input, other, dim=None):
    """The cross product of 3-vectors along ``dim`` (the last dimension of size 3 by default)."""
    if dim is None:
        dim = next((i for i in range(input.ndim) if input.shape[i] == 3), -1)
    return _la().cross(input, other, dim=dim)
