"""Chapter 3's lossless codec ``mlp-predictive``: DPCM with a small neural network as predictor.

Each pixel is predicted from its causal neighbours (and, for G and B, from the channels already
coded at the same pixel) by an MLP; the folded prediction error is range-coded with one adaptive
model per activity context. The family, in reading order:

=================  ==========================================================================
``codec.py``       the idea, the stream format and the codec class (read its docstring first)
``nets.py``        the predictors as data: features, :class:`PredictorNet`, weight files, the
                   per-image least-squares fit of the output layer
``reference.py``   the whole causal walk in plain Python, one sample at a time: the readable
                   twin that the tests pin the compiled kernels to (equal bytes, equal images)
``_kernels.py``    the same walk compiled with Numba (private: called through ``codec.py``)
=================  ==========================================================================

The shipped weights ``data/weights/mlp_predictive.npz`` are trained by
``python -m fromscratch train mlp-predictive`` (``fromscratch.training.mlp_predictive``).
Public: the names below and each public module's ``__all__``.
"""

from . import nets, reference
from .codec import PREDICTORS, MlpPredictive, decode_stream, encode_stream, predictions

__all__ = [
    "PREDICTORS",
    "MlpPredictive",
    "decode_stream",
    "encode_stream",
    "nets",
    "predictions",
    "reference",
]
