"""Train the Ballé et al. (2017) codec for one lambda: ``python -m fromscratch train balle2017``.

One run trains one rate-distortion trade-off::

    python -m fromscratch train balle2017 --lmbda 0.0067 --steps 200000 \\
        --checkpoint checkpoints/balle2017-0.0067.npz --export data/weights/balle2017_q3.npz

* **Resumable.** The checkpoint (weights, Adam's moments, the step, the random generator's state)
  is written every ``--checkpoint-every`` steps and at the end; running the same command again
  continues from it, so training can be spread over several sessions. ``--time-limit`` stops
  cleanly (and checkpoints) before a wall-clock budget runs out.
* **Reproducible.** Checkpoints and exports record the chain of commands that made them, each
  with the step it reached (``# reached step N``), warm starts included.
* **Warm starts.** ``--init-from other-checkpoint.npz`` starts a new lambda from a trained model
  (weights only, fresh optimizer): neighbouring lambdas converge in a fraction of the steps.
* **Learning rate.** Adam at ``--lr``, divided by 10 for the last ``--lr-drop`` fraction of the
  steps (the drop is what lifts PSNR at the end: see the notebook).
* **Decoder rounding.** ``--decoder-rounding`` trains the decoder on the rounded latents it will
  decode at test time (straight-through gradient) while the rate keeps the noisy relaxation: a
  fine-tuning step for the end of training (see ``nn.entropy_bottleneck``).
* **GPU.** ``--backend cupy`` runs the same code on CuPy arrays.
* **Safety.** Gradients are clipped to a global norm of 1 (as CompressAI does); a NaN or infinite
  loss or gradient stops the run with the step and the parameter where it appeared.

Crops (``--crop`` pixels, ``--batch`` per step) come from ``../shared/images/train`` (or
``--data`` / ``FROMSCRATCH_DATA`` / the bundled fallback), never from Kodak. ``--export`` writes
the codec's weight file: parameters plus the integer CDF tables and medians derived once from the
trained density, and the command that made it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import backend, nn
from ..codecs.balle2017 import Balle2017, RateDistortionLoss
from ..data import random_crops, train_images
from ..entropy.cdf_tables import cdf_tables_from_pmfs
from ._common import (
    annotated,
    clip_and_check,
    command,
    optimizer_arrays,
    restore_optimizer,
    run_main,
)

__all__ = ["export_weights", "main", "train"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fromscratch train balle2017",
                                description=__doc__.split("\n")[0])
    p.add_argument("--lmbda", type=float, required=True, help="rate-distortion trade-off")
    p.add_argument("--n", type=int, default=64, help="hidden channels N (default 64)")
    p.add_argument("--m", type=int, default=96, help="latent channels M (default 96)")
    p.add_argument("--steps", type=int, default=1000, help="total steps of the run")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128, help="crop side, a multiple of 16")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-drop", type=float, default=0.2,
                   help="fraction of the steps, at the end, run at lr / 10")
    p.add_argument("--decoder-rounding", action="store_true",
                   help="the decoder sees rounded latents (straight-through), the rate noisy ones")
    p.add_argument("--checkpoint", help="resumable state (.npz); continued if it exists")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--init-from", help="warm start: weights of another checkpoint or export")
    p.add_argument("--export", help="write the codec's weight file here at the end")
    p.add_argument("--backend", default="numpy", choices=("numpy", "cupy"))
    p.add_argument("--time-limit", type=float, default=0, help="stop after this many seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="folder holding train/ (else FROMSCRATCH_DATA, ../shared)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--log-every", type=int, default=0,
                   help="print mean bpp / PSNR of the last N steps every N steps")
    return p


def _command(argv) -> str:
    return command("balle2017", argv)


def _save_checkpoint(path: Path, model, optimizer, step: int, rng, args, commands) -> None:
    extra, optim = optimizer_arrays(optimizer, "optim/")
    hyper = {"kind": "balle2017-checkpoint", "step": step, "lr": optim["lr"],
             "adam_step": optim["step"], "n": args.n, "m": args.m, "lmbda": args.lmbda,
             "rng_state": rng.bit_generator.state, "commands": commands}
    path.parent.mkdir(parents=True, exist_ok=True)
    nn.save_weights(path, model, hyper, extra=extra)


def _load_checkpoint(path: Path, model, optimizer, rng) -> tuple[int, list[str]]:
    weights = nn.load_weights(path)
    model.load_state_dict(weights.state, source=str(path))
    restore_optimizer(optimizer, weights.extra, "optim/",
                      {"lr": weights.hyperparams["lr"], "step": weights.hyperparams["adam_step"]})
    rng.bit_generator.state = weights.hyperparams["rng_state"]
    return int(weights.hyperparams["step"]), list(weights.hyperparams.get("commands", []))


def export_weights(model: Balle2017, path, hyperparams: dict) -> dict:
    """Write the codec's weight file: parameters, medians and integer CDF tables.

    The tables are derived here, once, from the trained density (``EntropyBottleneck.pmfs``) and
    quantized with integer arithmetic, so every machine decodes the same bytes to the same
    latents. The 5 x 5 kernels are stored as float16 (half the file, a change of about 1e-4
    relative in each weight; the codec computes in float32); everything else stays float32.
    Returns the hyperparameters written.
    """
    model.eval()
    pmfs, offsets, medians = model.entropy_bottleneck.pmfs()
    cdfs, cdf_lengths, offsets = cdf_tables_from_pmfs(pmfs, offsets)
    extra = {"cdfs": cdfs, "cdf_lengths": cdf_lengths, "offsets": offsets,
             "medians": medians.astype(np.float32)}
    state = {name: value.astype(np.float16) if value.ndim == 4 else value
             for name, value in model.state_dict().items()}
    hyper = {"kind": "balle2017", "n": model.n, "m": model.m, **hyperparams}
    nn.save_weights(path, state, hyper, extra=extra)
    return hyper


def train(args, argv) -> dict:
    """Run the training loop described by the parsed ``args``; returns the last statistics."""
    xp = backend.use(args.backend)
    if args.crop % 16:
        raise ValueError(f"--crop must be a multiple of 16, got {args.crop}")
    rng = np.random.default_rng(args.seed)
    model = Balle2017(args.n, args.m, rng=args.seed, xp=xp)
    model.entropy_bottleneck.decoder_rounding = args.decoder_rounding
    optimizer = nn.Adam(model.parameters(), lr=args.lr)
    loss_fn = RateDistortionLoss(args.lmbda)
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    start, history = 0, []
    if checkpoint is not None and checkpoint.exists():
        start, history = _load_checkpoint(checkpoint, model, optimizer, rng)
        print(f"resuming {checkpoint} at step {start}", file=sys.stderr)
    elif args.init_from:
        warm = nn.load_weights(args.init_from)
        model.load_state_dict(warm.state, source=args.init_from)
        history = warm.hyperparams.get("commands", [])
        print(f"warm start from {args.init_from}", file=sys.stderr)
    images = train_images(args.data)
    drop_at = round(args.steps * (1.0 - args.lr_drop))
    started, stats, step, window = time.perf_counter(), {}, start, []
    model.train()
    progress = tqdm(range(start, args.steps), initial=start, total=args.steps,
                    disable=args.quiet, desc=f"balle2017 lambda={args.lmbda}")
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
        window.append((stats["bpp"], stats["mse"]))
        if args.log_every and done % args.log_every == 0:
            bpp, mse = np.mean(window, axis=0)
            print(f"step {done}: bpp {bpp:.4f} psnr {-10 * math.log10(mse):.2f} "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
            window.clear()
        out_of_time = args.time_limit and time.perf_counter() - started > args.time_limit
        if checkpoint is not None and (done % args.checkpoint_every == 0 or out_of_time):
            _save_checkpoint(checkpoint, model, optimizer, done, rng, args,
                             [*history, annotated(_command(argv), done)])
        if out_of_time:
            print(f"time limit reached at step {done}", file=sys.stderr)
            break
    else:
        done = args.steps
    elapsed = time.perf_counter() - started
    commands = [*history, annotated(_command(argv), done)]
    if checkpoint is not None:
        _save_checkpoint(checkpoint, model, optimizer, done, rng, args, commands)
    stats.update(step=done, seconds=elapsed, steps_per_second=(done - start) / max(elapsed, 1e-9))
    if args.export:
        export_weights(model, args.export, {
            "lmbda": args.lmbda, "steps": done, "crop": args.crop, "batch": args.batch,
            "command": _command(argv), "commands": commands,
            "trained_on": f"{len(images)} images of the training set (never Kodak)"})
        print(f"wrote {args.export}", file=sys.stderr)
    return stats


def main(argv: list[str] | None = None) -> int:
    return run_main(build_parser, train, argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
