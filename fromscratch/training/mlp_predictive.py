"""Train the three predictor networks of the ``mlp-predictive`` codec.

::

    python -m fromscratch train mlp-predictive              # -> data/weights/mlp_predictive.npz

The data are what the codec's networks see: random ``--crop-size`` crops of the training
photographs (never Kodak), and for every pixel of a crop away from its borders (whose
neighbours are the crop's artificial edges, not the photograph's) channel k's features
(``feature_matrix``: neighbour differences / 64) and target ``(x - N) / 64``, the correction the
network must add to the upper neighbour.

Each channel gets its own net: hidden layers ``n_features(k) -> hidden ...`` with LeakyReLU
(exact arithmetic only, see the codec), then a linear output reading the last hidden layer and
the features (a skip path: the hidden units only have to model what is not linear), trained
with Adam on minibatches of ``--batch`` pixels per channel and a cosine learning-rate schedule
with a short warm-up. The loss is
``--loss``: ``l1`` (mean absolute error: the residuals of a good predictor are close to
Laplacian, whose code length grows with log E|e|, so L1 is the better proxy for bits) or ``mse``.

At the end the script codes ``--val-crops`` fresh 128 x 128 crops (of the same photographs: a
check of the coding, not of generalisation; Kodak is for the benchmark) with the trained nets,
with their output layers refitted per crop, with the per-crop least-squares predictor and with
MED, through the codec's own coder, and prints the bits per pixel of each. The file records, in
its JSON hyperparameters, the command that produced it.
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
from ..backend import make_rng, to_numpy
from ..codecs.mlp_predictive.codec import DEFAULT_WEIGHTS, encode_stream
from ..codecs.mlp_predictive.nets import (
    FEATURE_LAYOUT,
    OUTPUT_SCALE,
    PredictorNet,
    feature_matrix,
    fit_least_squares,
    fit_output_layers,
    n_features,
    weights_path,
)
from ..data import random_crops, train_images

__all__ = ["build_nets", "main", "nets_for_codec", "training_samples"]

VAL_CROP = 128
BORDER = 2  # pixels within this of a crop's top/left edge (and 1 of its right edge) are skipped


def training_samples(crops: np.ndarray, channel: int) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, n_features(channel)) and targets (n, 1), float32, of the crops' inner pixels."""
    inputs, targets = [], []
    for crop in crops:
        features, base = feature_matrix(crop, channel)
        h, w = crop.shape[:2]
        inner = np.zeros((h, w), bool)
        inner[BORDER:, BORDER : w - 1] = True
        inner = inner.ravel()
        x = crop[:, :, channel].ravel().astype(np.float32)
        inputs.append(features[inner])
        targets.append(((x - base) / np.float32(OUTPUT_SCALE))[inner, None])
    return np.concatenate(inputs), np.concatenate(targets).astype(np.float32)


class PredictorNets(nn.Module):
    """Per channel k: ``hidden[k]`` (Linear + LeakyReLU, ...) and ``heads[k]``, a Linear(hidden
    width + n_features(k), 1) reading the last hidden layer and the features (the codec's skip
    path, so the net only has to learn what a linear predictor cannot)."""

    def __init__(self, hidden: tuple[int, ...], slope: float, rng):
        self.hidden, self.heads = [], []
        for k in range(3):
            layers, width = [], n_features(k)
            for h in hidden:
                layers += [nn.Linear(width, h, init="he", rng=rng), nn.LeakyReLU(slope)]
                width = h
            self.hidden.append(nn.Sequential(*layers))
            self.heads.append(nn.Linear(width + n_features(k), 1, init="xavier", rng=rng))

    def forward_channel(self, k: int, x):
        h = self.hidden[k].forward(x)
        self._width = h.shape[1]
        return self.heads[k].forward(np.concatenate([h, x], axis=1))

    def backward_channel(self, k: int, grad_out) -> None:
        grad_in = self.heads[k].backward(grad_out)
        self.hidden[k].backward(np.ascontiguousarray(grad_in[:, : self._width]))


def build_nets(hidden=(32,), slope: float = 0.01, rng=0) -> PredictorNets:
    return PredictorNets(tuple(hidden), slope, make_rng(rng))


def nets_for_codec(model: PredictorNets, slope: float) -> list[PredictorNet]:
    """The trained nets as the codec holds them (float32 weights and biases per layer)."""
    nets = []
    for hidden, head in zip(model.hidden, model.heads, strict=True):
        linears = [m for m in hidden if isinstance(m, nn.Linear)] + [head]
        nets.append(PredictorNet(
            tuple(to_numpy(m.weight.data).astype(np.float32) for m in linears),
            tuple(to_numpy(m.bias.data).astype(np.float32) for m in linears),
            float(np.float32(slope)),
        ))
    return nets


def codec_state(nets: list[PredictorNet]) -> dict[str, np.ndarray]:
    """The weight-file names the codec reads: ``channel<k>.layer<l>.weight`` / ``.bias``."""
    state = {}
    for k, net in enumerate(nets):
        for layer, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            state[f"channel{k}.layer{layer}.weight"] = w
            state[f"channel{k}.layer{layer}.bias"] = b
    return state


LOSSES = {"l1": nn.L1Loss, "mse": nn.MSELoss}


def train(model: PredictorNets, samples, *, steps: int, batch: int, lr: float, loss: str, rng,
          progress: bool = True) -> list[float]:
    """Adam + cosine schedule; every step takes one minibatch per channel. Returns the losses."""
    optimizer = nn.Adam(model.parameters(), lr=lr)
    schedule = nn.CosineDecay(optimizer, steps, min_lr=lr / 100, warmup_steps=max(1, steps // 50))
    losses = []
    loss_fn = LOSSES[loss]()
    bar = tqdm(range(steps), desc="mlp-predictive", disable=not progress)
    for _ in bar:
        optimizer.zero_grad()
        total = 0.0
        for k, (inputs, targets) in enumerate(samples):
            pick = rng.integers(0, len(inputs), batch)
            pred = model.forward_channel(k, inputs[pick])
            value = float(loss_fn.forward(pred, targets[pick]))
            model.backward_channel(k, loss_fn.backward().astype(np.float32))
            total += value
        optimizer.step()
        schedule.step()
        losses.append(total / 3)
        if len(losses) % 200 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-200:]):.5f}")
    return losses


def validation_bpp(crops: np.ndarray, nets: list[PredictorNet]) -> dict[str, float]:
    """Bits per RGB pixel of the validation crops (range-coded stream only, no side data)."""
    bits = {"mlp": 0, "mlp_adapted": 0, "ls": 0, "med": 0}
    for crop in crops:
        bits["mlp"] += 8 * len(encode_stream(crop, "net", nets))
        bits["mlp_adapted"] += 8 * len(encode_stream(crop, "net", fit_output_layers(crop, nets)))
        bits["ls"] += 8 * len(encode_stream(crop, "net", fit_least_squares(crop)))
        bits["med"] += 8 * len(encode_stream(crop, "med"))
    pixels = crops.shape[0] * crops.shape[1] * crops.shape[2]
    return {name: round(b / pixels, 4) for name, b in bits.items()}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fromscratch train mlp-predictive",
                                description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="folder with train/ (see fromscratch.data)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=30000)
    p.add_argument("--batch", type=int, default=1024, help="pixels per channel per step")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, nargs="+", default=[64], help="hidden layer widths")
    p.add_argument("--slope", type=float, default=0.01, help="LeakyReLU negative slope")
    p.add_argument("--loss", choices=("l1", "mse"), default="l1")
    p.add_argument("--crops", type=int, default=1200)
    p.add_argument("--crop-size", type=int, default=48)
    p.add_argument("--val-crops", type=int, default=24, help=f"{VAL_CROP}-pixel crops to score")
    p.add_argument("--out", default=None, help=f"default: data/weights/{DEFAULT_WEIGHTS}.npz")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    command = shlex.join(["python", "-m", "fromscratch", "train", "mlp-predictive", *argv])
    start = time.perf_counter()
    rng = make_rng(args.seed)
    images = train_images(args.data)
    crops = random_crops(args.crop_size, args.crops, rng, images=images)
    samples = [training_samples(crops, k) for k in range(3)]
    val = random_crops(VAL_CROP, args.val_crops, rng, images=images)
    model = build_nets(args.hidden, args.slope, rng)
    losses = train(model, samples, steps=args.steps, batch=args.batch, lr=args.lr,
                   loss=args.loss, rng=rng, progress=not args.no_progress)
    nets = nets_for_codec(model, args.slope)
    scores = validation_bpp(val, nets)
    hyper = {
        "command": command, "seed": args.seed, "feature_layout": FEATURE_LAYOUT,
        "n_features": [n_features(k) for k in range(3)], "hidden": list(args.hidden),
        "activation": "leaky_relu", "negative_slope": args.slope,
        "output": "linear over [last hidden layer, features]", "loss": args.loss,
        "steps": args.steps, "batch": args.batch, "lr": args.lr, "optimizer": "Adam",
        "schedule": "cosine, 2% warm-up, min lr/100", "crops": args.crops,
        "crop_size": args.crop_size, "val_crops": args.val_crops, "train_images": len(images),
        "samples_per_channel": len(samples[0][0]),
        "final_loss": float(np.mean(losses[-200:])), "validation_bpp": scores,
        "seconds": round(time.perf_counter() - start, 1),
    }
    out = Path(args.out) if args.out else weights_path(DEFAULT_WEIGHTS)
    nn.save_weights(out, codec_state(nets), hyper)
    print(f"wrote {out} ({hyper['seconds']} s); validation crops, bits per RGB pixel: "
          + ", ".join(f"{name} {value}" for name, value in scores.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
