"""Chapter 6's learned codec ``balle2018`` (Ballé, Minnen, Singh, Hwang & Johnston, ICLR 2018).

Chapter 4's codec plus side information: a second, smaller latent ``z`` that predicts the scale of
a zero-mean Gaussian for every latent of ``y``, so that each latent is coded with a density of its
own.

=============  ============================================================================
``model.py``   the network: chapter 4's g_a and g_s, the hyper-analysis h_a and hyper-synthesis
               h_s, the factorized bottleneck for z and the Gaussian conditional for y, forward
               and backward by hand (:class:`Balle2018`)
``codec.py``   the trained network as a codec with real bytes: two range-coded streams (z, then
               y), 64 Gaussian CDF tables, and an *integer* h_s so that encoder and decoder pick
               the same table for every latent on any machine; the shipped weights
               ``data/weights/balle2018_q<1..4>.npz``
=============  ============================================================================

The layers live in ``fromscratch.nn`` (``conv``, ``gdn``, ``entropy_bottleneck``,
``gaussian_conditional``, ``integer``); the training script is ``fromscratch.training.balle2018``
(``python -m fromscratch train balle2018``). Public: the names below.
"""

from .codec import (
    Balle2018Codec,
    available_qualities,
    index_thresholds,
    indexes_from_integer_scales,
    load_model,
    weights_path,
)
from .model import STRIDE, Balle2018, hyper_analysis, hyper_synthesis

__all__ = [
    "STRIDE",
    "Balle2018",
    "Balle2018Codec",
    "available_qualities",
    "hyper_analysis",
    "hyper_synthesis",
    "index_thresholds",
    "indexes_from_integer_scales",
    "load_model",
    "weights_path",
]
