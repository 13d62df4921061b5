"""Training scripts for the learned codecs: one module per codec, each with ``main(argv)``.

Every shipped weight file in ``data/weights/`` is produced by one of these scripts, and records
the exact command that made it. Run them as::

    python -m fromscratch train <codec> [options]   # or python -m fromscratch.training.<module>

Each module parses its own options (``--help`` lists them), shows a tqdm progress bar, reads
training crops from ``../shared/images/train`` (or ``--data``, ``FROMSCRATCH_DATA``, or the
bundled fallback: never the Kodak evaluation set) and writes an ``.npz`` without pickle.

One module is a lesson rather than a codec trainer: :mod:`.toy_gan` (with :mod:`.toy_gan_plots`)
trains chapter 5's generator and discriminator MLPs on eight Gaussians on a ring, to show mode
collapse and its remedy before the adversarial codec.
"""

from __future__ import annotations

import importlib

#: codec name -> module of ``fromscratch.training`` holding its ``main(argv)``.
TRAINERS: dict[str, str] = {
    "mlp1987": "mlp1987",
    "mlp-predictive": "mlp_predictive",
    "balle2017": "balle2017",
    "balle2018": "balle2018",
    "gan2017": "gan2017",
}


def trainer(name: str):
    """The ``main(argv) -> int`` function that trains codec ``name`` (ValueError if none)."""
    if name not in TRAINERS:
        raise ValueError(f"no trainer for {name!r}; trainable codecs: {', '.join(TRAINERS)}")
    module = importlib.import_module(f"{__name__}.{TRAINERS[name]}")
    return module.main
