"""Train the scale-hyperprior codec (Ballé et al. 2018): ``python -m fromscratch train balle2018``.

One run trains one rate-distortion trade-off; the loop, checkpoints, command chain, time limit,
NaN stop and ``--backend cupy`` are chapter 4's (:mod:`fromscratch.training.common`)::

    python -m fromscratch train balle2018 --lmbda 0.011 --steps 20000 \\
        --init-from data/weights/balle2017_q3.npz \\
        --checkpoint checkpoints/balle2018-0.011.npz --export data/weights/balle2018_q3.npz

* **Warm start from chapter 4.** ``--init-from`` takes a ``balle2018`` checkpoint or export (every
  weight) or a ``balle2017`` one: then ``g_a`` and ``g_s`` start from the trained transforms and
  only the hyperprior (``h_a``, ``h_s``, the bottleneck of ``z``) starts from scratch, which saves
  most of the training. The file's command chain is continued. A file with fewer channels than
  ``--n``/``--m`` is grown into the wider model (``nn.grow``: same function, new channels silent).
* **Two stages.** ``--freeze-transforms`` trains the hyperprior alone on the fixed latents of the
  warm-started transforms (about three times faster a step); a run without it then trains
  everything jointly.
* **Crops.** 256 x 256 by default (batch 2): ``z`` is 64 times smaller than the image, and a
  128 x 128 crop would leave it 2 x 2, all border.
* **Export.** ``--export`` writes the codec's weight file: the float weights, the integer CDF
  tables of ``z`` (as chapter 4) and of the 64 Gaussian scales, the *integer* hyper-synthesis and
  the integer table boundaries (``codecs/balle2018/codec.py`` explains why), and the chain of
  commands.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from .. import backend, nn
from ..codecs.balle2017 import RateDistortionLoss
from ..codecs.balle2018 import STRIDE, Balle2018, index_thresholds
from ..entropy.cdf_tables import cdf_tables_from_pmfs
from ..nn.gaussian_conditional import gaussian_pmfs, scale_table
from ..nn.integer import IntegerNetwork
from . import common

__all__ = ["ACTIVATION_BITS", "WEIGHT_BITS", "export_weights", "main", "train"]

#: Fixed point of the integer hyper-synthesis: 12 fractional bits for activations, 14 for weights.
ACTIVATION_BITS = 12
WEIGHT_BITS = 14


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fromscratch train balle2018",
                                description=__doc__.split("\n")[0])
    common.add_common_arguments(p, crop=256, batch=2, multiple=STRIDE)
    p.add_argument("--init-from", help="warm start: a balle2018 file (all weights) or a "
                                       "balle2017 file (g_a and g_s)")
    p.add_argument("--freeze-transforms", action="store_true",
                   help="train only the hyperprior (h_a, h_s, z's density): g_a, g_s fixed")
    return p


def export_weights(model: Balle2018, path, hyperparams: dict) -> dict:
    """Write the codec's weight file (see the module docstring); returns the hyperparameters.

    The kernels of g_a, g_s and h_a are stored as float16 (as chapter 4); h_s stays float32, so
    that the integer h_s in the file can be derived again from it (and checked: a test does).
    """
    model.eval()
    pmfs, z_offsets, z_medians = model.entropy_bottleneck.pmfs()
    z_cdfs, z_lengths, z_offsets = cdf_tables_from_pmfs(pmfs, z_offsets)
    table = scale_table()
    y_pmfs, y_offsets = gaussian_pmfs(table)
    y_cdfs, y_lengths, y_offsets = cdf_tables_from_pmfs(y_pmfs, y_offsets)
    h_s_int = IntegerNetwork.from_float(model.h_s, ACTIVATION_BITS, WEIGHT_BITS)
    extra = {"z_cdfs": z_cdfs, "z_cdf_lengths": z_lengths, "z_offsets": z_offsets,
             "z_medians": z_medians.astype(np.float32),
             "z_medians_int": np.rint(z_medians * 2.0**ACTIVATION_BITS).astype(np.int64),
             "y_cdfs": y_cdfs, "y_cdf_lengths": y_lengths, "y_offsets": y_offsets,
             "scale_table": table, "thresholds": index_thresholds(table, ACTIVATION_BITS),
             **h_s_int.arrays("h_s_int/")}
    state = {name: value.astype(np.float16)
             if value.ndim == 4 and not name.startswith("h_s.") else value
             for name, value in model.state_dict().items()}
    hyper = {"kind": "balle2018", "n": model.n, "m": model.m, **hyperparams}
    nn.save_weights(path, state, hyper, extra=extra)
    return hyper


def _warm_start(model: Balle2018, path) -> list[str]:
    warm = nn.load_weights(path)
    kind = warm.hyperparams.get("kind", "")
    if kind.startswith("balle2018"):
        nn.load_grown(model, warm.state, source=str(path))
    elif kind.startswith("balle2017"):
        for part in ("g_a", "g_s"):
            state = {name.removeprefix(part + "."): value for name, value in warm.state.items()
                     if name.startswith(part + ".")}
            nn.load_grown(getattr(model, part), state, source=f"{path} ({part})")
    else:
        raise nn.WeightsError(f"{path}: cannot warm-start balle2018 from kind {kind!r}")
    return list(warm.hyperparams.get("commands", []))


def train(args, argv) -> dict:
    """Run the training loop described by the parsed ``args``; returns the last statistics."""
    xp = backend.use(args.backend)
    model = Balle2018(args.n, args.m, rng=args.seed, xp=xp)
    model.decoder_rounding = args.decoder_rounding
    model.freeze_transforms = args.freeze_transforms
    return common.run(args, argv, codec="balle2018", model=model,
                      loss_fn=RateDistortionLoss(args.lmbda), xp=xp, warm_start=_warm_start,
                      export=export_weights, multiple=STRIDE)


def main(argv: list[str] | None = None) -> int:
    return common.main(build_parser(), train, argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
