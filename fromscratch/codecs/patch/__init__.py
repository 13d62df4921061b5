"""Chapter 3's patch codecs: the 1987 bottleneck network beside the KLT and the zonal DCT.

Cottrell, Munro & Zipser (1987) coded an image by squeezing every 8 x 8 patch through a small
hidden layer of a trained network. Whether that is a good idea can only be told by comparing it
with the *linear* transforms that reconstruction-trained bottlenecks approximate, on the same
quantiser and entropy coder. So this family is one pipeline and three transforms:

=================  ==========================================================================
``pipeline.py``    what the three share: YCbCr 4:2:0, 8 x 8 patches, the uniform quantiser, the
                   adaptive range coder, the payload (:class:`PatchCoder`); read it first
``mlp1987.py``     ``mlp1987``: the 64 -> k -> 64 sigmoid network (weights ``mlp1987_k*.npz``)
``linear.py``      ``klt`` (PCA, fitted: ``klt_8x8.npz``) and ``dct-zonal`` (JPEG's DCT, first k
                   zigzag coefficients); ``subspace_alignment`` compares a network with the KLT
=================  ==========================================================================

The weights are trained by ``python -m fromscratch train mlp1987 --k K`` (and ``--klt``), see
``fromscratch.training.mlp1987``. Public: everything in each module's ``__all__``; the names
below are the ones the notebook and the benchmarks use.
"""

from .linear import DctZonal, Klt, klt_tables, subspace_alignment
from .mlp1987 import MLP_K_CHOICES, Mlp1987, mlp_weights, weight_file_name
from .pipeline import SETTINGS, PatchCoder, image_patches

__all__ = [
    "MLP_K_CHOICES",
    "SETTINGS",
    "DctZonal",
    "Klt",
    "Mlp1987",
    "PatchCoder",
    "image_patches",
    "klt_tables",
    "mlp_weights",
    "subspace_alignment",
    "weight_file_name",
]
