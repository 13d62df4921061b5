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
  (weights only, fresh optimizer): neighbouring lambdas converge in a fraction of the steps. A
  file with fewer channels than ``--n``/``--m`` is grown into the wider model (``nn.grow``: the
  copy computes what the narrow model computed, the new channels start silent).
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
import os

import numpy as np

from .. import backend, nn
from ..codecs.balle2017 import Balle2017, RateDistortionLoss
from ..entropy.cdf_tables import cdf_tables_from_pmfs
from . import common

__all__ = ["export_weights", "main", "train"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fromscratch train balle2017",
                                description=__doc__.split("\n")[0])
    common.add_common_arguments(p, crop=128, batch=8, multiple=16)
    p.add_argument("--init-from", help="warm start: weights of another checkpoint or export")
    return p


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


def _warm_start(model: Balle2017, path) -> list[str]:
    warm = nn.load_weights(path)
    nn.load_grown(model, warm.state, source=str(path))
    return warm.hyperparams.get("commands", [])


def train(args, argv) -> dict:
    """Run the training loop described by the parsed ``args``; returns the last statistics."""
    xp = backend.use(args.backend)
    model = Balle2017(args.n, args.m, rng=args.seed, xp=xp)
    model.entropy_bottleneck.decoder_rounding = args.decoder_rounding
    return common.run(args, argv, codec="balle2017", model=model,
                      loss_fn=RateDistortionLoss(args.lmbda), xp=xp, warm_start=_warm_start,
                      export=export_weights, multiple=16)


def main(argv: list[str] | None = None) -> int:
    return common.main(build_parser(), train, argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
