r"""Adversarial fine-tuning of a trained codec's decoder: ``python -m fromscratch train gan2017``.

The first ``gan2017`` models keep a shipped ``balle2017`` encoder, entropy model and therefore
its bytes, and retrain only the synthesis transform :math:`g_s` so that its reconstructions look
like photographs at the same rate - Agustsson et al. (2019) and HiFiC (Mentzer et al. 2020)
call this a *generative* decoder. The objective of the decoder, per batch, is

.. math:: L_G = \underbrace{(1 - \mathrm{MS\text{-}SSIM}_3(\hat x, x))
          + w_{mse}\,\mathrm{MSE}(\hat x, x)}_{\text{distortion}}
          + \beta\,\mathrm{softplus}(-D(\hat x, \hat y)),

with :math:`\hat x = g_s(\hat y)`, the latents :math:`\hat y` rounded exactly as the codec will
(around the medians), MS-SSIM on three scales (the 128-px crops are too small for five) and
:math:`D` the conditional patch discriminator of :mod:`fromscratch.codecs.gan2017`, which
minimizes its own loss on real crops and on reconstructions. Rate does not appear: the latents
are fixed.

The schedule and the tricks, and why
------------------------------------
* **Distortion-only warm-up** (``--warmup`` steps): the shipped decoder was trained on MSE and
  noisy latents; it first adapts to rounded latents and the MS-SSIM term, so the adversary
  starts against a sensible generator instead of teaching it everything.
* **Spectral normalization** in the discriminator (its module says why); the project's torch
  trial without it left the detail ratio at 0.07 against 0.41 with it.
* **Learning rates** ``--lr-g 1e-4`` (a fine-tune: the decoder must not forget its job) and
  ``--lr-d 4e-4`` (four times faster: the two-timescale rule of Heusel et al. 2017 - a
  discriminator that lags lets the generator outrun it, which is how mode collapse starts, as
  the toy GAN shows), Adam with :math:`\beta_1 = 0.5`.
* **One discriminator step per generator step** (``--d-steps``), real and fake crops in one
  batch.
* **Weights**: ``--beta 0.3``, ``--mse-weight 10`` (the trial's; MSE keeps colours and PSNR from
  drifting, the adversary pays for texture). ``--beta 0`` trains the same decoder without the
  adversary: the ablation that shows what the adversary buys. The lower the rate, the harder
  the distortion terms pull against texture: a texture that is invented rather than decoded sits
  at the wrong phase, so its squared error is about twice its power. At 0.066 bpp the shipped q1
  kept a detail ratio of 0.30 after 2700 steps at beta 0.5; 800 more at ``--beta 1 --mse-weight
  3`` brought it to 0.68 for 0.6 dB of PSNR (six Kodak images; 0.78 on all 24).
* **Clipping** both networks' gradients to a global norm of 1 (as for ``balle2017``); a NaN or
  infinite gradient stops the run naming the step and the parameter.

Crops: a pool of ``--pool`` crops of ``--crop`` pixels is cut from the training images (never
Kodak) once, from ``--seed``, and encoded once (the encoder is frozen); each step draws
``--batch`` of them. The run is resumable (``--checkpoint``: both networks, both optimizers,
spectral-norm vectors, the random state, the command chain), stops cleanly at ``--time-limit``,
runs on ``--backend cupy``, and ``--export`` writes a codec weight file: the source file's
arrays and integer CDF tables with the new :math:`g_s`, ``kind = "gan2017"``, and the chain of
commands (the source's included).
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
from ..codecs.balle2017 import Balle2017
from ..codecs.gan2017 import PatchDiscriminator
from ..data import random_crops, train_images
from ..nn.ms_ssim_loss import MS_SSIM_WEIGHTS
from . import common
from .common import chain_after, clip_and_check, command, optimizer_arrays, restore_optimizer

__all__ = ["MS_SSIM_3_SCALES", "build_parser", "export_weights", "main", "train"]

#: Wang et al.'s first three MS-SSIM exponents, renormalized to sum to 1 (for 128-px crops).
MS_SSIM_3_SCALES = tuple(w / sum(MS_SSIM_WEIGHTS[:3]) for w in MS_SSIM_WEIGHTS[:3])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fromscratch train gan2017",
                                description=__doc__.split("\n")[0])
    p.add_argument("--init-from", help="the balle2017 weight file whose decoder is fine-tuned "
                   "(required unless resuming a checkpoint)")
    p.add_argument("--steps", type=int, default=1000, help="total generator steps of the run")
    p.add_argument("--warmup", type=int, default=100, help="distortion-only steps first")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128, help="crop side, a multiple of 16, >= 44")
    p.add_argument("--pool", type=int, default=256, help="crops cut and encoded once")
    p.add_argument("--lr-g", type=float, default=1e-4)
    p.add_argument("--lr-d", type=float, default=4e-4)
    p.add_argument("--beta", type=float, default=0.3, help="weight of the adversarial loss")
    p.add_argument("--mse-weight", type=float, default=10.0)
    p.add_argument("--d-steps", type=int, default=1, help="discriminator steps per G step")
    p.add_argument("--d-width", type=int, default=64,
                   help="channels of the discriminator's first conv (doubled at each of the next "
                        "two; 64 = HiFiC-like 64-128-256, 32 runs about 4x faster)")
    p.add_argument("--no-spectral-norm", action="store_true")
    return common.add_run_arguments(p, checkpoint_every=100, logged="mean statistics")


class _Run:
    """The decoder, the discriminator, their optimizers and the frozen source arrays."""

    def __init__(self, source: nn.Weights, args, xp):
        hyper = source.hyperparams
        if hyper.get("kind") not in ("balle2017", "gan2017"):
            raise nn.WeightsError(f"{source.path}: not a balle2017/gan2017 weight file")
        self.source = source
        self.model = Balle2017(int(hyper["n"]), int(hyper["m"]), rng=0, xp=xp)
        self.model.load_state_dict({k: v.astype(np.float32) for k, v in source.state.items()},
                                   source=source.path)
        self.medians = xp.asarray(source.extra["medians"], dtype=xp.float32)[None, :, None, None]
        self.decoder = self.model.g_s
        widths = (args.d_width, 2 * args.d_width, 4 * args.d_width)
        self.discriminator = PatchDiscriminator(
            self.model.m, widths=widths, latent_width=args.d_width,
            spectral_norm=not args.no_spectral_norm, rng=args.seed + 1, xp=xp)
        self.g_opt = nn.Adam(self.decoder.parameters(), lr=args.lr_g, betas=(0.5, 0.999))
        self.d_opt = nn.Adam(self.discriminator.parameters(), lr=args.lr_d, betas=(0.5, 0.999))

    def quantized_latents(self, x, chunk: int = 16):
        """``round(g_a(x) - medians) + medians``, exactly as the codec quantizes, in chunks."""
        xp = backend.get_xp()
        self.model.g_a.eval()
        parts = [self.model.g_a.forward(x[i : i + chunk]) for i in range(0, len(x), chunk)]
        y = xp.concatenate(parts)
        return xp.rint(y - self.medians) + self.medians

    def save(self, path: Path, step: int, rng, commands) -> None:
        g_arrays, g_scalars = optimizer_arrays(self.g_opt, "optim_g/")
        d_arrays, d_scalars = optimizer_arrays(self.d_opt, "optim_d/")
        state = {f"g_s.{k}": v for k, v in self.decoder.state_dict().items()}
        state.update({f"d.{k}": v for k, v in self.discriminator.state_dict().items()})
        extra = {**g_arrays, **d_arrays}
        for name, layer in self.discriminator.spectral_layers():
            extra.update({f"sn/{name}/{k}": v for k, v in layer.buffers().items()})
        hyper = {"kind": "gan2017-checkpoint", "step": step, "optim_g": g_scalars,
                 "optim_d": d_scalars, "rng_state": rng.bit_generator.state,
                 "source": self.source.path, "commands": commands}
        nn.save_weights(path, state, hyper, extra=extra)

    def load(self, path: Path, rng) -> tuple[int, list[str]]:
        weights = nn.load_weights(path)
        state = weights.state
        self.decoder.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("g_s.")},
                                     source=str(path))
        self.discriminator.load_state_dict(
            {k[2:]: v for k, v in state.items() if k.startswith("d.")}, source=str(path))
        restore_optimizer(self.g_opt, weights.extra, "optim_g/", weights.hyperparams["optim_g"])
        restore_optimizer(self.d_opt, weights.extra, "optim_d/", weights.hyperparams["optim_d"])
        for name, layer in self.discriminator.spectral_layers():
            layer.load_buffers({k: weights.extra[f"sn/{name}/{k}"] for k in ("u", "v")})
        rng.bit_generator.state = weights.hyperparams["rng_state"]
        return int(weights.hyperparams["step"]), list(weights.hyperparams["commands"])


def export_weights(run: _Run, path, hyperparams: dict) -> dict:
    """The codec's weight file: the source's arrays and tables with the fine-tuned ``g_s``."""
    state = dict(run.source.state)
    for name, value in run.decoder.state_dict().items():
        state[f"g_s.{name}"] = value.astype(np.float16) if value.ndim == 4 else value
    hyper = {"kind": "gan2017", "n": run.model.n, "m": run.model.m,
             "source": Path(run.source.path).name, **hyperparams}
    nn.save_weights(path, state, hyper, extra=run.source.extra)
    return hyper


def _generator_step(run: _Run, x, y_hat, args, adversarial: bool, losses, step: int) -> dict:
    """One decoder step (and, when adversarial, the discriminator's steps before it)."""
    xp = backend.get_xp()
    stats = {}
    x_hat = run.decoder.forward(y_hat)
    if not bool(xp.isfinite(x_hat).all()):
        bad = [name for name, p in run.decoder.named_parameters()
               if not bool(xp.isfinite(p.data).all())]
        where = f"parameter 'g_s.{bad[0]}' is not finite" if bad else "all parameters are finite"
        raise FloatingPointError(f"step {step}: the reconstruction is not finite ({where})")
    if adversarial:
        for _ in range(args.d_steps):
            run.d_opt.zero_grad()
            logits = run.discriminator.forward(xp.concatenate([x, x_hat]),
                                               xp.concatenate([y_hat, y_hat]))
            half = len(x)
            stats["d_loss"] = float(losses["d"].forward(logits[:half], logits[half:]))
            stats["d_accuracy"] = float(((logits[:half] > 0).mean() + (logits[half:] < 0).mean())
                                        / 2)
            d_real, d_fake = losses["d"].backward()
            run.discriminator.backward(xp.concatenate([d_real, d_fake]))
            clip_and_check(run.discriminator, step)
            run.d_opt.step()
    run.g_opt.zero_grad()
    grad = xp.zeros_like(x_hat)
    if adversarial:
        stats["g_adv"] = float(losses["g"].forward(run.discriminator.forward(x_hat, y_hat)))
        grad += run.discriminator.backward(losses["g"].backward(args.beta))[0]
        run.discriminator.zero_grad()
    stats["ms_ssim"] = 1.0 - float(losses["ms_ssim"].forward(x_hat, x))
    grad += losses["ms_ssim"].backward()
    stats["mse"] = float(losses["mse"].forward(x_hat, x))
    grad += losses["mse"].backward(args.mse_weight)
    run.decoder.backward(grad)
    return stats


def train(args, argv) -> dict:
    """Run the fine-tuning described by the parsed ``args``; returns the last statistics."""
    xp = backend.use(args.backend)
    if args.crop % 16 or args.crop < 11 * 4:
        raise ValueError(f"--crop must be a multiple of 16 and >= 44 (3-scale MS-SSIM), "
                         f"got {args.crop}")
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    resuming = checkpoint is not None and checkpoint.exists()
    source_path = (nn.load_weights(checkpoint).hyperparams["source"] if resuming
                   else args.init_from)
    if not source_path:
        raise ValueError("--init-from (a balle2017 weight file) is required for a new run")
    run = _Run(nn.load_weights(source_path), args, xp)
    rng = np.random.default_rng(args.seed)
    start, history = 0, list(run.source.hyperparams.get("commands", []))
    if resuming:
        start, history = run.load(checkpoint, rng)
        print(f"resuming {checkpoint} at step {start}", file=sys.stderr)
        common.nothing_to_train(checkpoint, start, args.steps)
    # The pool depends on the seed only, so a resumed run sees the same crops.
    images = train_images(args.data)
    crops = random_crops(args.crop, args.pool, np.random.default_rng([args.seed, 1]),
                         images=images)
    pool_x = xp.asarray(crops.transpose(0, 3, 1, 2), dtype=xp.float32) / 255.0
    pool_y = run.quantized_latents(pool_x)
    losses = {"d": nn.DiscriminatorLoss("nonsaturating"), "g": nn.GeneratorLoss("nonsaturating"),
              "ms_ssim": nn.MSSSIMLoss(1.0, MS_SSIM_3_SCALES), "mse": nn.MSELoss()}
    run.decoder.train()
    run.discriminator.train()
    this_command = command("gan2017", argv)
    started, stats, window, done = time.perf_counter(), {}, [], start
    progress = tqdm(range(start, args.steps), initial=start, total=args.steps,
                    disable=args.quiet, desc=f"gan2017 beta={args.beta}")
    for step in progress:
        index = rng.choice(args.pool, args.batch, replace=False)
        adversarial = args.beta > 0 and step >= args.warmup
        stats = _generator_step(run, pool_x[index], pool_y[index], args, adversarial, losses,
                                step)
        if not all(math.isfinite(v) for v in stats.values()):
            raise FloatingPointError(f"step {step}: a loss is not finite ({stats})")
        stats["g_grad_norm"] = clip_and_check(run.decoder, step)
        run.g_opt.step()
        done = step + 1
        psnr = -10 * math.log10(max(stats["mse"], 1e-12))
        progress.set_postfix(ms_ssim=f"{stats['ms_ssim']:.4f}", psnr=f"{psnr:.2f}",
                             d_acc=f"{stats.get('d_accuracy', float('nan')):.2f}")
        window.append((stats["ms_ssim"], stats["mse"], stats.get("d_loss", float("nan"))))
        if args.log_every and done % args.log_every == 0:
            ms_ssim, mse, d_loss = np.mean(window, axis=0)
            print(f"step {done}: ms-ssim {ms_ssim:.4f} psnr {-10 * math.log10(mse):.2f} "
                  f"d_loss {d_loss:.3f} ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr, flush=True)
            window.clear()
        out_of_time = args.time_limit and time.perf_counter() - started > args.time_limit
        if checkpoint is not None and (done % args.checkpoint_every == 0 or out_of_time):
            run.save(checkpoint, done, rng, chain_after(history, this_command, start, done))
        if out_of_time:
            print(f"time limit reached at step {done}", file=sys.stderr)
            break
    elapsed = time.perf_counter() - started
    commands = chain_after(history, this_command, start, done)
    if checkpoint is not None:
        run.save(checkpoint, done, rng, commands)
    stats.update(step=done, seconds=elapsed, steps_per_second=(done - start) / max(elapsed, 1e-9))
    if args.export:
        export_weights(run, args.export, {
            "beta": args.beta, "mse_weight": args.mse_weight, "steps": done,
            "warmup": args.warmup, "crop": args.crop,
            "batch": args.batch, "command": common.last_command(commands, this_command),
            "commands": commands,
            "trained_on": f"{len(images)} images of the training set (never Kodak)"})
        print(f"wrote {args.export}", file=sys.stderr)
    return stats


def main(argv: list[str] | None = None) -> int:
    return common.main(build_parser(), train, argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
