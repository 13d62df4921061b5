"""Watching the toy GAN: samples over the discriminator's decision surface, and modes covered.

``plot_snapshots`` draws one panel per snapshot of a :func:`~.toy_gan.train_toy_gan` run: the
discriminator's belief ``sigmoid(D(x))`` that a point is real as a colour map (blue = real,
red = fake; its decision boundary, 0.5, as a line), the eight true centres as crosses and the
generator's samples as dots. Run it on a collapsing and on a healthy run, one above the other,
to see the samples hop as a lump or spread over the ring. ``plot_coverage`` puts the modes
covered of several runs on one axis.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..nn.functional import sigmoid
from . import toy_gan

__all__ = ["plot_coverage", "plot_snapshots"]


def plot_snapshots(result: toy_gan.ToyGANResult, *, snapshots=None, axes=None, title: str = ""):
    """One panel per snapshot: decision surface, true centres, samples.

    Parameters
    ----------
    result : ToyGANResult
    snapshots : sequence of int or None
        Indices into ``result.rounds`` (default: all).
    axes : sequence of matplotlib Axes or None
        One per snapshot; a new one-row figure when None.
    title : str
        Prefix of each panel's title (e.g. the setting's name).

    Returns
    -------
    list of Axes
    """
    indices = list(range(len(result.rounds))) if snapshots is None else list(snapshots)
    if axes is None:
        _, axes = plt.subplots(1, len(indices), figsize=(2.6 * len(indices), 2.8), squeeze=False)
        axes = axes[0]
    extent = toy_gan.GRID_EXTENT
    centres = toy_gan.ring_centers()
    for ax, i in zip(axes, indices, strict=True):
        belief = sigmoid(np.asarray(result.logits[i], dtype=np.float64))
        ax.imshow(belief, origin="lower", extent=(-extent, extent, -extent, extent),
                  cmap="RdBu", vmin=0, vmax=1)
        axis = np.linspace(-extent, extent, belief.shape[0])
        ax.contour(axis, axis, belief, levels=[0.5], colors="k", linewidths=0.6)
        samples = np.clip(result.samples[i], -extent, extent)  # off-screen points on the frame
        ax.scatter(samples[:, 0], samples[:, 1], s=1, c="gold", alpha=0.5)
        ax.scatter(centres[:, 0], centres[:, 1], marker="x", c="k", s=20)
        covered, quality = result.coverage[i]
        ax.set_title(f"{title}round {result.rounds[i]}: {covered}/8 modes, "
                     f"{quality:.0%} good", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    return list(axes)


def plot_coverage(results: dict, ax=None):
    """Modes covered against rounds, one line per run (``{label: ToyGANResult}``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    for label, result in results.items():
        ax.plot(result.rounds, [c for c, _ in result.coverage], marker="o", label=label)
    ax.set_xlabel("round (discriminator steps)")
    ax.set_ylabel("modes covered (of 8)")
    ax.set_ylim(-0.3, 8.3)
    ax.legend(fontsize=8)
    return ax
