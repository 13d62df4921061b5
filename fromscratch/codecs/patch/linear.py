"""The linear peers of the 1987 network: the KLT (PCA) and JPEG's DCT, kept to k codes per patch.

Why a linear transform is the yardstick
---------------------------------------
Cottrell, Munro & Zipser's network (``mlp1987``) squeezes a patch through k hidden units and back.
Soon after, two results showed what such a bottleneck can hope for. Bourlard & Kamp (1988) showed
that for auto-association (the target is the input) nonlinear hidden units do not beat the best
*linear* solution, which is given by the singular value decomposition of the data; Baldi & Hornik
(1989) proved that the error surface of a *linear* 64 -> k -> 64 autoencoder has a unique global
minimum (up to an invertible mixing of the hidden units), whose k hidden directions span the
same subspace as the top k principal components, and that its other critical points are saddles.
So the Karhunen-Loeve transform (KLT, Hotelling's principal components) is the answer a
reconstruction-error-trained bottleneck approximates, and the right thing to compare it against.

KLT
---
Let ``x`` (64,) be a patch, ``mu`` the mean patch and ``Sigma = E[(x - mu)(x - mu)^T]`` the
covariance of training patches. Its eigen-decomposition ``Sigma = V diag(lambda) V^T``, with
eigenvalues sorted down, gives the codes and the reconstruction::

    c = V_k^T (x - mu)          x_hat = mu + V_k c          (V_k: the first k columns of V)

Among all k-dimensional linear codes this minimises the expected squared error, which is the sum
of the discarded eigenvalues ``sum_{j>k} lambda_j`` (Eckart-Young). The codes are uncorrelated,
with variances ``lambda_j``: the quantiser range of code ``j`` is taken from percentiles of the
training codes (0.01% and 99.99%), separately for luma and chroma patches. Narrower ranges
(0.1%, 0.5%, 2%) give finer steps but clip more and spend more bits at the same ``b``; on Kodak
every choice from 0.001% to 0.1% lies on nearly the same RD curve, and 0.5% or more is worse.

DCT zonal coding
----------------
For a stationary first-order Markov source with correlation close to 1 - a fair model of
photographs - the KLT's basis tends to the DCT's (Ahmed, Natarajan & Rao, 1974). The DCT needs no
training and no stored basis, which is why JPEG uses it. *Zonal* coding keeps a fixed zone of
coefficients, here the first k in JPEG's zigzag order (low frequencies first), and drops the rest.
JPEG does better by keeping *all* 64 with coefficient-specific steps and letting zeros cost almost
nothing; the zone is the fair peer of a k-unit bottleneck.

The basis, the mean, the eigenvalues and every code range come from one file, ``klt_8x8.npz``,
fitted on training crops (never Kodak) by ``python -m fromscratch train mlp1987 --klt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from ...backend import array_module, to_numpy
from ...data import REPO_ROOT
from ...transforms.dct import dct_blocks, idct_blocks
from ..base import Parameter, register
from ..jpeg.tables import ZIGZAG
from .pipeline import SETTINGS, PatchCoder

__all__ = [
    "KLT_FILE",
    "WEIGHTS_DIR",
    "DctZonal",
    "Klt",
    "klt_tables",
    "load_weight_file",
    "subspace_alignment",
]

#: Where shipped weight files live (tests may point it elsewhere).
WEIGHTS_DIR = REPO_ROOT / "data" / "weights"
KLT_FILE = "klt_8x8.npz"
#: Arrays ``klt_8x8.npz`` must hold under ``extra/``, with their shapes.
KLT_ARRAYS = {
    "mean": (64,), "eigenvectors": (64, 64), "eigenvalues": (64,),
    "klt_range": (2, 2, 64), "dct_range": (2, 2, 64),
}  # ranges: [LUMA or CHROMA, low or high, component (KLT order) or coefficient (raster order)]
_cache: dict[str, tuple] = {}  # path -> ((mtime, size), Weights)

BITS = Parameter(6, int, low=2, high=8, help="bits per code (2**bits quantiser levels)")


def load_weight_file(name: str):
    """``nn.load_weights(WEIGHTS_DIR / name)``, cached while the file is unchanged.

    Raises ``nn.WeightsError`` naming the file when it is missing or not a weight file.
    """
    from ... import nn  # imported here: registering the codecs must not need the nn core

    path = Path(WEIGHTS_DIR) / name
    try:
        stat = path.stat()
    except OSError:
        raise nn.WeightsError(
            f"weight file {path} not found: train it with `python -m fromscratch train mlp1987`"
            " (see data/weights/ in the repository)"
        ) from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(str(path))
    if cached is None or cached[0] != stamp:
        cached = _cache[str(path)] = (stamp, nn.load_weights(path))
    return cached[1]


def klt_tables() -> dict[str, np.ndarray]:
    """The arrays of ``klt_8x8.npz`` (see ``KLT_ARRAYS``), checked; WeightsError otherwise."""
    from ... import nn

    weights = load_weight_file(KLT_FILE)
    for name, shape in KLT_ARRAYS.items():
        array = weights.extra.get(name)
        if array is None or array.shape != shape:
            got = "missing" if array is None else f"shape {array.shape}"
            raise nn.WeightsError(f"{weights.path}: extra/{name} should have shape {shape}, {got}")
    return {name: weights.extra[name].astype(np.float64) for name in KLT_ARRAYS}


def subspace_alignment(weights_k_by_64, eigvecs_64_by_k) -> np.ndarray:
    """Cosines of the principal angles between two k-dimensional subspaces of R^64.

    Orthonormalise the rows of ``weights_k_by_64`` (e.g. an encoder's weight matrix, or a
    decoder's transposed) and the columns of ``eigvecs_64_by_k`` by QR, to ``Q1``, ``Q2`` (64, k);
    the singular values of ``Q1^T Q2`` are the cosines of the principal angles (Björck & Golub,
    1973): all 1 for the same subspace, 0 for orthogonal directions.

    Returns
    -------
    numpy.ndarray, shape (k,)
        Cosines in decreasing order.
    """
    a = to_numpy(weights_k_by_64).astype(np.float64).T
    b = to_numpy(eigvecs_64_by_k).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"need a (k, n) and an (n, k) matrix, got {a.T.shape} and {b.shape}")
    q1, q2 = np.linalg.qr(a)[0], np.linalg.qr(b)[0]
    return np.clip(np.linalg.svd(q1.T @ q2, compute_uv=False), 0.0, 1.0)


@register
class Klt(PatchCoder):
    """The Karhunen-Loeve transform (PCA) of 8 x 8 patches, k components, b bits each."""

    name = "klt"
    description = "PCA/KLT of 8x8 patches, k codes x b bits (chapter 3's linear optimum)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "k": Parameter(8, int, low=1, high=64, help="principal components kept per patch"),
        "bits": BITS,
    }
    zero_level = True
    settings = SETTINGS

    def _tables(self, xp):
        tables = klt_tables()
        k = self.n_codes
        return (xp.asarray(tables["mean"], dtype=xp.float32),
                xp.asarray(tables["eigenvectors"][:, :k], dtype=xp.float32))

    def analysis(self, patches):
        xp = array_module(patches)
        mean, basis = self._tables(xp)
        return (patches - mean) @ basis

    def synthesis(self, codes):
        xp = array_module(codes)
        mean, basis = self._tables(xp)
        return codes @ basis.T + mean

    def code_range(self, kind: int):
        ranges = klt_tables()["klt_range"][kind]
        return ranges[0, : self.n_codes], ranges[1, : self.n_codes]


@register
class DctZonal(PatchCoder):
    """The first k zigzag DCT coefficients of each 8 x 8 patch, b bits each."""

    name = "dct-zonal"
    description = "first k zigzag DCT coefficients of 8x8 patches, k codes x b bits (chapter 3)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "k": Parameter(8, int, low=1, high=64, help="zigzag coefficients kept per patch"),
        "bits": BITS,
    }
    zero_level = True
    settings = SETTINGS

    def analysis(self, patches):
        xp = array_module(patches)
        blocks = (patches - 128.0).reshape(-1, 8, 8)  # level shift as JPEG: DC centred on 0
        return dct_blocks(blocks).reshape(-1, 64)[:, xp.asarray(ZIGZAG[: self.n_codes])]

    def synthesis(self, codes):
        xp = array_module(codes)
        coefficients = xp.zeros((codes.shape[0], 64), dtype=codes.dtype)
        coefficients[:, xp.asarray(ZIGZAG[: self.n_codes])] = codes
        return idct_blocks(coefficients.reshape(-1, 8, 8)).reshape(-1, 64) + 128.0

    def code_range(self, kind: int):
        ranges = klt_tables()["dct_range"][kind]
        zone = ZIGZAG[: self.n_codes]
        return ranges[0, zone], ranges[1, zone]
