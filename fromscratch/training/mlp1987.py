"""Train chapter 3's bottleneck network (``mlp1987``), fit its peers (``klt``, ``dct-zonal``).

::

    python -m fromscratch train mlp1987 --k 8            # -> data/weights/mlp1987_k8.npz
    python -m fromscratch train mlp1987 --klt            # -> data/weights/klt_8x8.npz

The data are the patches the codecs see: random 32 x 32 crops of the training photographs (never
Kodak) -> YCbCr -> 4:2:0 chroma -> 8 x 8 patches (``codecs.patch.pipeline.image_patches``), 16
luma and 8 chroma patches per crop. A random tenth of the patches is held out to report the
validation error.

The network (64 -> k -> 64, sigmoid code, linear output) minimises the mean squared error between
its output and its input, both ``patch / 255 - 1/2``, with Adam, minibatches of ``--batch``
patches and a cosine learning-rate schedule with a short warm-up.

Quantisation-aware fine-tuning (``--qat-steps``, ``--qat-bits``, ``--qat-mode``): the codec sends
each hidden unit with only ``b`` bits, i.e. the decoder receives ``h + e`` with a rounding error
``e`` of up to half a step ``1 / 2**b``. After the main training we fine-tune for ``--qat-steps``
more steps (a fresh Adam at a tenth of the learning rate) with exactly such noise, uniform in
``[-step/2, step/2)`` with ``b`` drawn per minibatch from ``--qat-bits``, added between the two
layers; the gradient passes through the addition unchanged.

Did it help? Measured on 6 Kodak images over every (k, b), k in 4/8/16/32 and b in 3..8, as the
BD-rate of the best RD points against the KLT's (lower is better): no fine-tuning +33%,
``--qat-mode decoder`` (the encoder frozen, so rates do not change) +35%, ``--qat-mode both``
(the default) +32%. At a fixed ``b`` the gain looks large (k=4, b=4: 19.1 -> 21.2 dB) because
the encoder learns to spread its codes over more of (0, 1); but spread codes cost more bits, and
at equal rate what remains is a few tenths of a dB at the lowest rates. The network's handicap
is elsewhere (see ``codecs/patch/mlp1987.py``): quantisation-aware training cannot fix a basis that
spreads the variance evenly over the hidden units.

``--klt`` fits the linear transforms instead: the mean and covariance of the patches, all 64
eigenvectors and eigenvalues (``numpy.linalg.eigh``), and the quantiser range of every KLT and DCT
code (the ``--percentile`` and ``100 - --percentile`` percentiles, luma and chroma apart).
Every file records, in its JSON hyperparameters, the command that produced it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import nn
from ..backend import get_xp, make_rng, to_numpy
from ..codecs.patch import linear as patch_linear
from ..codecs.patch.mlp1987 import weight_file_name
from ..codecs.patch.pipeline import image_patches
from ..data import random_crops, train_images
from ..transforms.dct import dct_blocks

__all__ = [
    "build_autoencoder",
    "fit_klt",
    "main",
    "train_autoencoder",
    "training_patches",
]

CROP = 32


def training_patches(n_crops: int, rng, data=None, images=None) -> tuple[np.ndarray, np.ndarray]:
    """Luma and chroma patches of ``n_crops`` random 32 x 32 training crops.

    Returns
    -------
    (luma, chroma) : float32 arrays (16 n_crops, 64) and (8 n_crops, 64), pixel values 0..255
    """
    crops = random_crops(CROP, n_crops, rng, images=images, data=data)
    luma, chroma = zip(*(image_patches(crop) for crop in crops), strict=True)
    return (np.concatenate(luma).astype(np.float32), np.concatenate(chroma).astype(np.float32))


def build_autoencoder(k: int, activation: str = "sigmoid", rng=0, xp=None) -> nn.Sequential:
    """``Linear(64, k) -> activation -> Linear(k, 64)``; ``"linear"`` puts an Identity between.

    The parameter names (``0.weight``, ``0.bias``, ``2.weight``, ``2.bias``) are those the
    ``mlp1987`` codec reads.
    """
    layers = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": nn.Identity}
    if activation not in layers:
        raise ValueError(f"activation must be one of {list(layers)}, got {activation!r}")
    rng = make_rng(rng)
    return nn.Sequential(nn.Linear(64, k, rng=rng, xp=xp), layers[activation](),
                         nn.Linear(k, 64, rng=rng, xp=xp))


def train_autoencoder(net: nn.Sequential, inputs: np.ndarray, *, steps: int, batch: int = 256,
                      lr: float = 3e-3, rng=0, qat_steps: int = 0,
                      qat_bits: tuple[int, ...] = (5,), qat_mode: str = "both",
                      code_range: float = 1.0, progress: bool = True) -> list[float]:
    """Minimise ``mean((net(x) - x)**2)`` over random minibatches of ``inputs`` (n, 64).

    Parameters
    ----------
    net : Sequential
        From :func:`build_autoencoder`: encoder ``net[:2]``, decoder ``net[2]``.
    inputs : ndarray (n, 64)
        Normalised patches (``patch / 255 - 1/2``).
    steps, batch, lr : int, int, float
        Adam steps, minibatch size and peak learning rate (cosine decay to lr / 100 after a
        warm-up of 2% of the steps).
    qat_steps : int
        Then that many steps of quantisation-aware fine-tuning (module docstring): uniform noise
        of one quantiser step ``code_range / 2**b``, ``b`` drawn from ``qat_bits`` per minibatch,
        added to the hidden codes; a fresh Adam from ``lr / 10``, cosine to ``lr / 1000``.
    qat_mode : {"decoder", "both"}
        Which half learns during the fine-tuning (the encoder is frozen in ``"decoder"``).
    code_range : float
        Width of the hidden units' range (1 for sigmoid, 2 for tanh).

    Returns
    -------
    list of float
        The training loss of every step, fine-tuning included.
    """
    if qat_mode not in ("decoder", "both"):
        raise ValueError(f"qat_mode must be 'decoder' or 'both', got {qat_mode!r}")
    xp = get_xp()
    rng = make_rng(rng)
    data = xp.asarray(inputs, dtype=xp.float32)
    loss_fn = nn.MSELoss()
    encoder, decoder = net[:2], net[2]
    phases = [(steps, net.parameters(), lr, False)]
    if qat_steps:
        learners = decoder.parameters() if qat_mode == "decoder" else net.parameters()
        phases.append((qat_steps, learners, lr / 10, True))
    losses = []
    for n_steps, params, peak_lr, noisy in phases:
        optimizer = nn.Adam(params, lr=peak_lr)
        schedule = nn.CosineDecay(optimizer, n_steps, min_lr=peak_lr / 100,
                                  warmup_steps=max(1, n_steps // 50))
        label = "fine-tune" if noisy else "train"
        bar = tqdm(range(n_steps), desc=f"{label} k={net[0].out_features}",
                   disable=not progress, mininterval=1.0)
        for step in bar:
            x = data[xp.asarray(rng.integers(0, data.shape[0], batch))]
            codes = encoder.forward(x)
            if noisy:
                half_step = code_range / 2 ** int(rng.choice(qat_bits)) / 2
                codes = codes + xp.asarray(rng.uniform(-half_step, half_step, codes.shape),
                                           dtype=codes.dtype)
            net.zero_grad()
            loss = loss_fn.forward(decoder.forward(codes), x)
            grad_codes = decoder.backward(loss_fn.backward())
            if not (noisy and qat_mode == "decoder"):
                encoder.backward(grad_codes)  # through the noise unchanged: d(h + e)/dh = 1
            optimizer.step()
            schedule.step()
            losses.append(float(loss))
            if step % 500 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.5f}", lr=f"{optimizer.lr:.1e}")
    return losses


def _reconstruction_psnr(net: nn.Sequential, inputs: np.ndarray) -> float:
    """PSNR (dB, 0..255 pixels) of the unquantised network on normalised patches."""
    xp = get_xp()
    net.eval()
    x = xp.asarray(inputs, dtype=xp.float32)
    mse = float(to_numpy(xp.mean((net.forward(x) - x) ** 2))) * 255.0**2
    return 10 * np.log10(255.0**2 / mse)


def _klt_psnr(train: np.ndarray, val: np.ndarray, k: int) -> float:
    """PSNR of the best linear k-code reconstruction (PCA of ``train``) on ``val``, for scale."""
    mean = train.mean(axis=0)
    basis = np.linalg.eigh(np.cov(train - mean, rowvar=False))[1][:, ::-1][:, :k]
    error = (val - mean) - (val - mean) @ basis @ basis.T
    return 10 * np.log10(1.0 / np.mean(error**2))


def fit_klt(luma: np.ndarray, chroma: np.ndarray, percentile: float = 0.01) -> dict:
    """Mean, eigenvectors (columns, eigenvalues falling), eigenvalues and code ranges.

    The basis is fitted on luma and chroma patches together (the codec uses one basis for all
    planes); the quantiser ranges ``[P(percentile), P(100 - percentile)]`` of every KLT code and
    every DCT coefficient (raster order) are measured per plane kind. Arrays as ``KLT_ARRAYS``.
    """
    patches = np.concatenate([luma, chroma]).astype(np.float64)
    mean = patches.mean(axis=0)
    covariance = np.cov(patches - mean, rowvar=False)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    # eigh's sign is arbitrary: make each vector's largest entry positive, for reproducible files
    signs = np.sign(eigenvectors[np.abs(eigenvectors).argmax(axis=0), np.arange(64)])
    eigenvectors = eigenvectors * signs
    quantiles = [percentile, 100 - percentile]
    klt_range, dct_range = np.empty((2, 2, 64)), np.empty((2, 2, 64))
    for kind, kind_patches in enumerate((luma, chroma)):
        x = kind_patches.astype(np.float64)
        klt_range[kind] = np.percentile((x - mean) @ eigenvectors, quantiles, axis=0)
        dct = dct_blocks((x - 128.0).reshape(-1, 8, 8)).reshape(-1, 64)
        dct_range[kind] = np.percentile(dct, quantiles, axis=0)
    return {"mean": mean, "eigenvectors": eigenvectors, "eigenvalues": np.maximum(eigenvalues, 0),
            "klt_range": klt_range, "dct_range": dct_range}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fromscratch train mlp1987",
        description="Train the 64 -> k -> 64 bottleneck MLP (or, with --klt, fit the KLT/DCT "
                    "tables) on training crops.")
    parser.add_argument("--k", type=int, default=8, help="hidden units (default 8)")
    parser.add_argument("--klt", action="store_true",
                        help="fit the KLT basis and the KLT/DCT code ranges instead")
    parser.add_argument("--activation", default="sigmoid", choices=("sigmoid", "tanh"))
    parser.add_argument("--steps", type=int, default=100000, help="Adam steps (default 100000)")
    parser.add_argument("--batch", type=int, default=256, help="patches per step")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    parser.add_argument("--crops", type=int, default=12000,
                        help="random 32x32 training crops (24 patches each; default 12000)")
    parser.add_argument("--qat-steps", type=int, default=20000,
                        help="quantisation-aware fine-tuning steps after training (default 20000;"
                             " 0: none)")
    parser.add_argument("--qat-bits", type=int, nargs="+", default=[4, 5, 6],
                        help="bits whose quantiser step the noise imitates (one drawn per step)")
    parser.add_argument("--qat-mode", choices=("decoder", "both"), default="both",
                        help="what learns during the fine-tuning: both halves (default) or the "
                             "decoder alone (the encoder frozen)")
    parser.add_argument("--percentile", type=float, default=0.01,
                        help="--klt: code ranges from this percentile to 100 minus it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="folder with train/ (default: shared)")
    parser.add_argument("--out", default=None, help="output .npz (default: data/weights/...)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    command = shlex.join(["python", "-m", "fromscratch", "train", "mlp1987", *argv])
    start = time.perf_counter()
    rng = make_rng(args.seed)
    images = train_images(args.data)
    luma, chroma = training_patches(args.crops, rng, images=images)
    hyper = {"command": command, "seed": args.seed, "crops": args.crops, "crop_size": CROP,
             "train_images": len(images), "luma_patches": len(luma),
             "chroma_patches": len(chroma)}
    if args.klt:
        out = Path(args.out) if args.out else patch_linear.WEIGHTS_DIR / patch_linear.KLT_FILE
        tables = fit_klt(luma, chroma, args.percentile)
        hyper.update(percentile=args.percentile, seconds=round(time.perf_counter() - start, 1))
        nn.save_weights(out, {}, hyper, extra=tables)
        kept = np.cumsum(tables["eigenvalues"]) / tables["eigenvalues"].sum()
        print(f"wrote {out}: variance kept by 4/8/16 components "
              f"{kept[3]:.3f}/{kept[7]:.3f}/{kept[15]:.3f}")
        return 0

    patches = np.concatenate([luma, chroma]) / 255.0 - 0.5
    order = rng.permutation(len(patches))
    n_val = len(patches) // 10
    val, train = patches[order[:n_val]], patches[order[n_val:]]
    net = build_autoencoder(args.k, args.activation, rng)
    losses = train_autoencoder(
        net, train, steps=args.steps, batch=args.batch, lr=args.lr, rng=rng,
        qat_steps=args.qat_steps, qat_bits=tuple(args.qat_bits), qat_mode=args.qat_mode,
        code_range=2.0 if args.activation == "tanh" else 1.0, progress=not args.no_progress)
    val_psnr = _reconstruction_psnr(net, val)
    klt_psnr = _klt_psnr(train, val, args.k)
    hyper.update(k=args.k, activation=args.activation, steps=args.steps, batch=args.batch,
                 lr=args.lr, schedule="cosine, 2% warm-up, min lr/100", optimizer="Adam",
                 qat_steps=args.qat_steps, qat_bits=list(args.qat_bits),
                 qat_mode=args.qat_mode,
                 final_loss=float(np.mean(losses[-200:])), val_psnr_unquantised=round(val_psnr, 3),
                 val_psnr_klt_same_k=round(klt_psnr, 3),
                 seconds=round(time.perf_counter() - start, 1))
    out = Path(args.out) if args.out else patch_linear.WEIGHTS_DIR / weight_file_name(args.k)
    nn.save_weights(out, net, hyper)
    print(f"wrote {out}: validation PSNR without quantisation {val_psnr:.2f} dB, the KLT with "
          f"{args.k} components {klt_psnr:.2f} dB ({hyper['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
