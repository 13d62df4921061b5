"""What every rate-distortion training script shares: options, checkpoints, the loop.

The learned codecs of chapters 4 and 6 train the same way - random crops, one lambda, Adam with a
final drop of the learning rate, clipped gradients, resumable checkpoints, a command chain in every
file - and differ only in the model, how a warm start fills it and what the exported weight file
holds. :func:`run` is that loop; ``training/balle2017.py`` and ``training/balle2018.py`` give it
their model and their export.

* **Resumable.** The checkpoint (weights, Adam's moments, the step, the random generator's state)
  is written every ``--checkpoint-every`` steps and at the end; the same command continues from
  it. ``--time-limit`` stops cleanly (and checkpoints) before a wall-clock budget runs out.
* **Reproducible.** Checkpoints and exports record the chain of commands that made them, each with
  the step it reached (``# reached step N``), warm starts included.
* **Safety.** Gradients are clipped to a global norm of 1 (as CompressAI does); a NaN or infinite
  loss or gradient stops the run with the step and the parameter where it appeared.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import nn
from ..data import random_crops, train_images

__all__ = [
    "add_common_arguments",
    "add_run_arguments",
    "annotated",
    "chain_after",
    "chain_steps",
    "clip_and_check",
    "command",
    "last_command",
    "load_checkpoint",
    "main",
    "nothing_to_train",
    "optimizer_arrays",
    "restore_optimizer",
    "run",
    "save_checkpoint",
]


def add_common_arguments(p: argparse.ArgumentParser, *, crop: int, batch: int,
                         multiple: int) -> argparse.ArgumentParser:
    """The options every rate-distortion trainer takes (``--lmbda``, ``--steps``, ...)."""
    p.add_argument("--lmbda", type=float, required=True, help="rate-distortion trade-off")
    p.add_argument("--n", type=int, default=64, help="hidden channels N (default 64)")
    p.add_argument("--m", type=int, default=96, help="latent channels M (default 96)")
    p.add_argument("--steps", type=int, default=1000, help="total steps of the run")
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--crop", type=int, default=crop, help=f"crop side, a multiple of {multiple}")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-drop", type=float, default=0.2,
                   help="fraction of the steps, at the end, run at lr / 10")
    p.add_argument("--decoder-rounding", action="store_true",
                   help="the decoder sees rounded latents (straight-through), the rate noisy ones")
    return add_run_arguments(p, checkpoint_every=500, logged="mean bpp / PSNR")


def add_run_arguments(p: argparse.ArgumentParser, *, checkpoint_every: int,
                      logged: str) -> argparse.ArgumentParser:
    """The options of every training run, whatever it trains: checkpoint, export, backend, time
    limit, seed, data folder, progress and logging (``logged``: what ``--log-every`` prints)."""
    p.add_argument("--checkpoint", help="resumable state (.npz); continued if it exists")
    p.add_argument("--checkpoint-every", type=int, default=checkpoint_every)
    p.add_argument("--export", help="write the codec's weight file here at the end")
    p.add_argument("--backend", default="numpy", choices=("numpy", "cupy"))
    p.add_argument("--time-limit", type=float, default=0, help="stop after this many seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="folder holding train/ (else FROMSCRATCH_DATA, ../shared)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--log-every", type=int, default=0,
                   help=f"print the {logged} of the last N steps every N steps")
    return p


def command(codec: str, argv) -> str:
    """The shell command that ran ``python -m fromscratch train <codec> argv``."""
    return f"python -m fromscratch train {codec} " + " ".join(shlex.quote(a) for a in argv)


def annotated(command_line: str, step: int) -> str:
    """The command with the step it reached: runs stopped by --time-limit stay reproducible."""
    return f"{command_line}  # reached step {step}"


def chain_after(history, command_line: str, start: int, done: int) -> list[str]:
    """The command chain after a run that went from step ``start`` to ``done``.

    A resume that took no step (its checkpoint was already at or past ``--steps``) adds nothing:
    the chain records what trained the weights, not every command that touched the file.
    """
    if start > 0 and done == start:
        return list(history)
    return [*history, annotated(command_line, done)]


def nothing_to_train(checkpoint, start: int, steps: int) -> bool:
    """Say so on stderr when a resumed checkpoint is already at or past ``--steps``."""
    if start > 0 and start >= steps:
        print(f"{checkpoint} is already at step {start} >= --steps {steps}: nothing to train",
              file=sys.stderr)
        return True
    return False


_REACHED = re.compile(r"#\s*reached step (\d+)\s*$")


def last_command(commands, command_line: str) -> str:
    """The command that last trained the weights (the chain's last entry without its step)."""
    return _REACHED.sub("", commands[-1]).rstrip() if commands else command_line


def chain_steps(commands) -> int:
    """Optimizer steps a recorded command chain took in all (the inverse of :func:`annotated`).

    A chain is the linear history of one file's weights, so a command without ``--init-from``
    resumed the state the previous command left (whatever its checkpoint file was called, as
    when a checkpoint was copied) and adds ``reached - previous``; a warm start (``--init-from``)
    counts from 0. A command without its annotation (a run that was not stopped early) adds
    nothing it cannot prove: such files record ``steps`` in their hyperparameters instead,
    which the caller adds.
    """
    total = previous = 0
    for line in commands:
        found = _REACHED.search(line)
        if not found:
            continue
        reached = int(found.group(1))
        warm_start = "--init-from" in shlex.split(line.split("#", 1)[0])
        total += max(reached - (0 if warm_start else previous), 0)
        previous = reached
    return total


def clip_and_check(model: nn.Module, step: int, max_norm: float = 1.0) -> float:
    """Clip the global gradient norm to ``max_norm``; stop with a message on NaN/inf."""
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
    a checkpoint's extra arrays, and its learning rate and step count for the JSON header."""
    state = optimizer.state_dict()
    arrays = {f"{prefix}{k}": v for k, v in state.items() if isinstance(v, np.ndarray)}
    return arrays, {"lr": optimizer.lr, "step": state["step"]}


def restore_optimizer(optimizer: nn.Optimizer, extra: dict, prefix: str, scalars: dict) -> None:
    """Inverse of :func:`optimizer_arrays`."""
    state = {k.removeprefix(prefix): v for k, v in extra.items() if k.startswith(prefix)}
    state.update(lr=scalars["lr"], step=scalars["step"])
    optimizer.load_state_dict(state)


def save_checkpoint(path: Path, kind: str, model, optimizer, step: int, rng, args,
                    commands) -> None:
    """Weights, Adam's state, the step and the generator's state in one ``.npz``."""
    state = optimizer.state_dict()
    extra = {f"optim/{k}": v for k, v in state.items() if isinstance(v, np.ndarray)}
    hyper = {"kind": f"{kind}-checkpoint", "step": step, "lr": optimizer.lr,
             "adam_step": state["step"], "n": args.n, "m": args.m, "lmbda": args.lmbda,
             "rng_state": rng.bit_generator.state, "commands": commands}
    path.parent.mkdir(parents=True, exist_ok=True)
    nn.save_weights(path, model, hyper, extra=extra)


def load_checkpoint(path: Path, model, optimizer, rng) -> tuple[int, list[str]]:
    """Restore what :func:`save_checkpoint` wrote; returns ``(step, commands)``."""
    weights = nn.load_weights(path)
    model.load_state_dict(weights.state, source=str(path))
    state = {k.removeprefix("optim/"): v for k, v in weights.extra.items()
             if k.startswith("optim/")}
    state.update(lr=weights.hyperparams["lr"], step=weights.hyperparams["adam_step"])
    optimizer.load_state_dict(state)
    rng.bit_generator.state = weights.hyperparams["rng_state"]
    return int(weights.hyperparams["step"]), list(weights.hyperparams.get("commands", []))


def run(args, argv, *, codec: str, model, loss_fn, xp, warm_start, export, multiple: int) -> dict:
    """The training loop shared by the learned codecs; returns the last step's statistics.

    Parameters
    ----------
    args, argv
        Parsed options (:func:`add_common_arguments` and the codec's own) and the raw arguments.
    codec : str
        Name used in commands and checkpoint kinds.
    model : nn.Module
        ``forward(x) -> (x_hat, likelihoods)``, ``backward(grad_x_hat, grad_likelihoods)``.
    loss_fn
        ``forward(x_hat, likelihoods, x) -> stats``, ``backward() -> (grad_x_hat, grad_lik)``.
    warm_start : callable ``(model, path) -> list[str]``
        Fills the model from ``args.init_from`` and returns that file's command chain.
    export : callable ``(model, path, hyperparams)``
        Writes the codec's weight file.
    multiple : int
        The crop must be a multiple of this (the model's stride).
    """
    if args.crop % multiple:
        raise ValueError(f"--crop must be a multiple of {multiple}, got {args.crop}")
    rng = np.random.default_rng(args.seed)
    optimizer = nn.Adam(model.parameters(), lr=args.lr)
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    start, history = 0, []
    if checkpoint is not None and checkpoint.exists():
        start, history = load_checkpoint(checkpoint, model, optimizer, rng)
        print(f"resuming {checkpoint} at step {start}", file=sys.stderr)
        nothing_to_train(checkpoint, start, args.steps)
    elif args.init_from:
        history = warm_start(model, args.init_from)
        print(f"warm start from {args.init_from}", file=sys.stderr)
    images = train_images(args.data)
    drop_at = round(args.steps * (1.0 - args.lr_drop))
    this_command = command(codec, argv)
    started, stats, done, window = time.perf_counter(), {}, start, []
    model.train()
    progress = tqdm(range(start, args.steps), initial=start, total=args.steps,
                    disable=args.quiet, desc=f"{codec} lambda={args.lmbda}")
    for step in progress:
        optimizer.lr = args.lr if step < drop_at else args.lr / 10
        crops = random_crops(args.crop, args.batch, rng, images=images)
        x = xp.asarray(crops.transpose(0, 3, 1, 2), dtype=xp.float32) / 255.0
        model.zero_grad()
        x_hat, likelihoods = model.forward(x)
        stats = loss_fn.forward(x_hat, likelihoods, x)
        if not math.isfinite(stats["loss"]):
            raise FloatingPointError(f"step {step}: the loss is {stats['loss']} ({stats})")
        model.backward(*loss_fn.backward())
        stats["grad_norm"] = clip_and_check(model, step)
        optimizer.step()
        psnr = -10 * math.log10(max(stats["mse"], 1e-12))
        progress.set_postfix(bpp=f"{stats['bpp']:.3f}", psnr=f"{psnr:.2f}")
        done = step + 1
        window.append((stats["bpp"], stats["mse"], *stats.get("bpp_parts", ())[1:]))
        if args.log_every and done % args.log_every == 0:
            means = np.mean(window, axis=0)
            side = f" (side {means[2]:.4f})" if len(means) > 2 else ""
            print(f"step {done}: bpp {means[0]:.4f}{side} psnr {-10 * math.log10(means[1]):.2f} "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
            window.clear()
        out_of_time = args.time_limit and time.perf_counter() - started > args.time_limit
        if checkpoint is not None and (done % args.checkpoint_every == 0 or out_of_time):
            save_checkpoint(checkpoint, codec, model, optimizer, done, rng, args,
                            chain_after(history, this_command, start, done))
        if out_of_time:
            print(f"time limit reached at step {done}", file=sys.stderr)
            break
    elapsed = time.perf_counter() - started
    commands = chain_after(history, this_command, start, done)
    if checkpoint is not None:
        save_checkpoint(checkpoint, codec, model, optimizer, done, rng, args, commands)
    stats.update(step=done, seconds=elapsed, steps_per_second=(done - start) / max(elapsed, 1e-9))
    if args.export:
        export(model, args.export, {
            "lmbda": args.lmbda, "steps": done, "crop": args.crop, "batch": args.batch,
            "command": last_command(commands, this_command), "commands": commands,
            "trained_on": f"{len(images)} images of the training set (never Kodak)"})
        print(f"wrote {args.export}", file=sys.stderr)
    return stats


def main(parser: argparse.ArgumentParser, train, argv=None) -> int:
    """Parse ``argv`` (default: the command line), run ``train(args, argv)``, print its stats."""
    argv = list(sys.argv[1:] if argv is None else argv)
    stats = train(parser.parse_args(argv), argv)
    print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v)
                      for k, v in stats.items()}), file=sys.stderr)
    return 0
