"""Pieces every training script shares: the recorded command, gradient clipping with a NaN stop,
and the optimizer state as flat arrays for a checkpoint."""

from __future__ import annotations

import json
import math
import shlex
import sys

import numpy as np

from .. import nn


def command(codec: str, argv) -> str:
    """The shell command that ran ``python -m fromscratch train <codec>`` with ``argv``."""
    return f"python -m fromscratch train {codec} " + " ".join(shlex.quote(a) for a in argv)


def annotated(command_line: str, step: int) -> str:
    """The command with the step it reached: runs stopped by --time-limit stay reproducible."""
    return f"{command_line}  # reached step {step}"


def clip_and_check(model: nn.Module, step: int, max_norm: float = 1.0) -> float:
    """Clip the global gradient norm to ``max_norm``; stop with a message on NaN/inf.

    Raises ``FloatingPointError`` naming the step and the first parameter whose gradient is not
    finite. Returns the norm before clipping.
    """
    total = 0.0
    for name, p in model.named_parameters():
        square = float((p.grad * p.grad).sum())
        if not math.isfinite(square):
            raise FloatingPointError(f"step {step}: non-finite gradient in parameter {name!r}")
        total += square
    norm = math.sqrt(total)
    if norm > max_norm:
        for p in model.parameters():
            p.grad *= max_norm / norm
    return norm


def optimizer_arrays(optimizer: nn.Optimizer, prefix: str) -> tuple[dict, dict]:
    """``(arrays, scalars)`` of an optimizer's state: arrays named ``<prefix><buffer>.<i>`` for
    the checkpoint's extra arrays, and its learning rate and step count for the JSON header."""
    state = optimizer.state_dict()
    arrays = {f"{prefix}{k}": v for k, v in state.items() if isinstance(v, np.ndarray)}
    return arrays, {"lr": optimizer.lr, "step": state["step"]}


def restore_optimizer(optimizer: nn.Optimizer, extra: dict, prefix: str, scalars: dict) -> None:
    """Inverse of :func:`optimizer_arrays`."""
    state = {k.removeprefix(prefix): v for k, v in extra.items() if k.startswith(prefix)}
    state.update(lr=scalars["lr"], step=scalars["step"])
    optimizer.load_state_dict(state)


def run_main(build_parser, train, argv) -> int:
    """The body of a training script's ``main``: parse ``argv`` (default: the command line),
    train, print the last statistics as JSON on stderr. Returns 0."""
    argv = list(sys.argv[1:] if argv is None else argv)
    stats = train(build_parser().parse_args(argv), argv)
    print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v)
                      for k, v in stats.items()}), file=sys.stderr)
    return 0
