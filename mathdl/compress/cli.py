"""``mathdl distill``: train a student model on the softened outputs of a trained teacher.

  mathdl distill --teacher runs/x/checkpoint.safetensors --student mlp --model-opt hidden=32
                 [--temperature 4] [--alpha 0.9] [--epochs 20] [--lr 1e-3] [--compare] [--out DIR]

The dataset is the teacher's (from its checkpoint).  Prints the teacher's and the distilled
student's test accuracy (and, with ``--compare``, the same student trained from scratch with the
same budget); ``--out`` writes the student as a training checkpoint that ``mathdl evaluate``
reads.  The lead's ``mathdl.cli`` calls :func:`add_parser` and :func:`run`.
"""

from __future__ import annotations

import os

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    p = subparsers.add_parser(
        "distill", help="train a student on a teacher's softened outputs (knowledge distillation)",
        description="Knowledge distillation: L = alpha T^2 KL(teacher_T || student_T) + (1 - alpha) CE, on the "
                    "teacher checkpoint's dataset.")
    p.add_argument("--teacher", required=True, help="checkpoint.safetensors written by 'mathdl train'")
    p.add_argument("--student", required=True, help="registered model name of the student (see 'mathdl list')")
    p.add_argument("--model-opt", action="append", metavar="KEY=VALUE", help="student model option (repeatable)")
    p.add_argument("--temperature", type=float, default=4.0, help="softening temperature T (default 4)")
    p.add_argument("--alpha", type=float, default=0.9, help="weight of the soft term (default 0.9)")
    p.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--batch-size", type=int, default=64, help="mini-batch size (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--compare", action="store_true", help="also train the student from scratch and compare")
    p.add_argument("--out", default=None, help="directory for the student's checkpoint.safetensors")
    return p


def _fail(msg):
    print(f"mathdl distill: error: {msg}")
    return 2


def run(args):
    import mathdl as md

    from .. import data, models  # noqa: F401  (registration)
    from ..generate import load_model
    from ..models.registry import build_model
    from ..serialization import CheckpointError
    from .distill import distill
    from .training import accuracy, arrays, fit

    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        return _fail("--epochs and --batch-size must be >= 1 and --lr > 0")
    if args.temperature <= 0 or not 0 <= args.alpha <= 1:
        return _fail("--temperature must be > 0 and --alpha in [0, 1]")
    try:
        teacher, spec, cfg = load_model(args.teacher)
    except (FileNotFoundError, ValueError, CheckpointError) as e:
        return _fail(str(e))
    if spec.task != "classification":
        return _fail(f"distillation needs a classification teacher; {cfg['dataset']!r} is a {spec.task} dataset")
    opts = {}
    for pair in args.model_opt or []:
        if "=" not in pair:
            return _fail(f"--model-opt expects KEY=VALUE, got {pair!r}")
        from ..cli import _parse_value

        k, v = pair.split("=", 1)
        opts[k.strip().replace("-", "_")] = _parse_value(v.strip())

    def make_student():
        md.manual_seed(args.seed)
        return build_model(args.student, spec, **opts)

    try:
        student = make_student()
    except (ValueError, TypeError) as e:
        return _fail(f"student {args.student!r}: {e}")
    if args.out:
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as e:
            return _fail(f"cannot write to --out {args.out!r}: {e.strerror}")
    xtr, ytr = arrays(spec.train)
    xte, yte = arrays(spec.test)
    n_t = sum(p.numel() for p in teacher.parameters())
    n_s = sum(p.numel() for p in student.parameters())
    print(f"teacher {cfg['model']} ({n_t:,} params): test accuracy {accuracy(teacher, xte, yte):.4f}")
    distill(teacher, student, xtr, ytr, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
            temperature=args.temperature, alpha=args.alpha, seed=args.seed)
    print(f"student {args.student} ({n_s:,} params) distilled (T={args.temperature:g}, alpha={args.alpha:g}): "
          f"test accuracy {accuracy(student, xte, yte):.4f}")
    if args.compare:
        scratch = make_student()
        fit(scratch, xtr, ytr, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
        print(f"student {args.student} from scratch (same budget): test accuracy {accuracy(scratch, xte, yte):.4f}")
    if args.out:
        student_cfg = {**cfg, "model": args.student, "model_options": opts, "epochs": args.epochs, "lr": args.lr,
                       "batch_size": args.batch_size, "seed": args.seed,
                       "distilled_from": os.path.abspath(args.teacher)}
        path = os.path.join(args.out, "checkpoint.safetensors")
        md.save({"kind": "mathdl-train", "epoch": args.epochs, "config": student_cfg, "metrics": [],
                 "model": student.state_dict()}, path)
        print(f"wrote {path}")
    return 0
