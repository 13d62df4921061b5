r"""A generative adversarial network small enough to watch: eight Gaussians on a ring.

Chapter 5 starts where Goodfellow et al. (2014) did. Two multilayer perceptrons from chapter 3's
core play a game on points of the plane:

* the **generator** :math:`G` maps noise :math:`z \sim \mathcal N(0, I_2)` to a point
  :math:`G(z) \in \mathbb R^2`;
* the **discriminator** :math:`D` maps a point to a logit, trained to tell real points (from a
  mixture of eight Gaussians on a circle of radius 2, σ = 0.05) from generated ones.

One *round* is one discriminator step on a real and a fake batch
(:class:`~fromscratch.nn.DiscriminatorLoss`) followed by ``generator_steps`` generator steps
through the frozen discriminator (:class:`~fromscratch.nn.GeneratorLoss`, non-saturating): the
generator's gradient is the discriminator's backward pass, ``dL/dG(z) = D.backward(...)``, fed
into the generator's own backward. Nothing else connects the two networks.

Mode collapse, and what keeps it away
-------------------------------------
The game is :math:`\min_G \max_D V(G, D)`. If the generator is trained to convergence against a
*fixed* discriminator, its best reply is to put every sample at the single point the
discriminator currently finds most real - a point mass, whatever :math:`z` (Goodfellow 2016,
NIPS tutorial §5.1.1: that is the solution of :math:`\max_D \min_G`, the game in the wrong
order). The discriminator then learns to reject that point, the generator jumps to the next
favourite, and so on: the samples hop from place to place and never cover the eight modes. That
is **mode collapse**, and ``generator_steps=20`` reproduces it here in a few seconds.

The remedy shown here is the one this chapter's codec needs as well: keep the discriminator in
step with the generator, so that each generator move is answered before the next (one
generator step per discriminator step, ``generator_steps=1``; Rippel & Bourdev 2017 go further
and gate which network trains on the discriminator's accuracy). With alternating single steps,
gradient play approximates the minimax order, and the generator is pushed towards every region
where the discriminator still sees more real than fake points: all eight modes fill.

:func:`mode_coverage` counts a mode as *covered* when at least 1 % of the samples lie within
3σ of its centre (the count of Metz et al. 2017 and Srivastava et al. 2017); the fraction of
samples within 3σ of *some* centre measures their quality.

Each run records snapshots (samples and the discriminator's logit on a grid) for
:mod:`.toy_gan_plots`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import nn
from ..backend import make_rng

__all__ = [
    "ToyGANResult",
    "make_discriminator",
    "make_generator",
    "mode_coverage",
    "ring_centers",
    "sample_ring",
    "train_toy_gan",
]

RING_MODES, RING_RADIUS, RING_STD = 8, 2.0, 0.05
#: The square (−3, 3)² on which snapshots evaluate the discriminator, GRID_SIZE points a side.
GRID_EXTENT, GRID_SIZE = 3.0, 61


def ring_centers(modes: int = RING_MODES, radius: float = RING_RADIUS) -> np.ndarray:
    """Centres of the mixture, shape (modes, 2), the first at angle 0."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def sample_ring(n: int, rng=None, *, modes: int = RING_MODES, radius: float = RING_RADIUS,
                std: float = RING_STD, dtype="float32") -> np.ndarray:
    """``n`` points of the mixture: a uniformly chosen centre plus N(0, std² I), shape (n, 2)."""
    rng = make_rng(rng)
    centres = ring_centers(modes, radius)[rng.integers(0, modes, n)]
    return (centres + std * rng.standard_normal((n, 2))).astype(dtype)


def make_generator(noise_dim: int = 2, hidden: int = 64, rng=None) -> nn.Sequential:
    """Noise (B, noise_dim) → points (B, 2): two ReLU hidden layers, a linear output."""
    rng = make_rng(rng)
    return nn.Sequential(
        nn.Linear(noise_dim, hidden, init="he", rng=rng), nn.ReLU(),
        nn.Linear(hidden, hidden, init="he", rng=rng), nn.ReLU(),
        nn.Linear(hidden, 2, rng=rng),
    )


def make_discriminator(hidden: int = 64, rng=None) -> nn.Sequential:
    """Points (B, 2) → logits (B, 1): two LeakyReLU(0.2) hidden layers, as in DCGAN's D."""
    rng = make_rng(rng)
    return nn.Sequential(
        nn.Linear(2, hidden, init="he", rng=rng), nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden, init="he", rng=rng), nn.LeakyReLU(0.2),
        nn.Linear(hidden, 1, rng=rng),
    )


def mode_coverage(samples, *, modes: int = RING_MODES, radius: float = RING_RADIUS,
                  std: float = RING_STD, min_fraction: float = 0.01) -> tuple[int, float]:
    """How many modes the samples cover, and the fraction of good samples.

    A sample is *good* when it lies within ``3 std`` of its nearest centre; a mode is *covered*
    when at least ``min_fraction`` of all samples are good samples of that mode.

    Returns
    -------
    covered : int, 0..modes
    quality : float in [0, 1], the fraction of good samples
    """
    samples = np.asarray(samples, dtype=np.float64)
    distances = np.linalg.norm(samples[:, None, :] - ring_centers(modes, radius)[None], axis=2)
    nearest, good = distances.argmin(axis=1), distances.min(axis=1) < 3 * std
    counts = np.bincount(nearest[good], minlength=modes)
    return int(np.sum(counts >= min_fraction * len(samples))), float(good.mean())


@dataclass
class ToyGANResult:
    """What :func:`train_toy_gan` returns.

    Attributes
    ----------
    generator, discriminator : nn.Sequential
        The trained networks.
    rounds : list of int
        The round after which each snapshot was taken.
    samples : list of arrays (n_samples, 2)
        Generator samples at each snapshot (the same noise each time, so points can be followed).
    logits : list of arrays (GRID_SIZE, GRID_SIZE)
        The discriminator's logit on the grid ``linspace(-3, 3, 61)²`` (rows = y) at each snapshot.
    coverage : list of (int, float)
        :func:`mode_coverage` of each snapshot's samples.
    d_loss, g_loss : list of float
        Losses of every round (the generator's: of its last step in the round).
    settings : dict
        The arguments of the run.
    """

    generator: nn.Sequential
    discriminator: nn.Sequential
    rounds: list[int] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)
    logits: list[np.ndarray] = field(default_factory=list)
    coverage: list[tuple[int, float]] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def modes_covered(self) -> int:
        """Modes covered at the last snapshot."""
        return self.coverage[-1][0]


def discriminator_grid() -> np.ndarray:
    """The (GRID_SIZE², 2) points at which snapshots evaluate the discriminator, x fastest."""
    axis = np.linspace(-GRID_EXTENT, GRID_EXTENT, GRID_SIZE)
    x, y = np.meshgrid(axis, axis)
    return np.stack([x.ravel(), y.ravel()], axis=1).astype(np.float32)


def train_toy_gan(rounds: int = 3000, *, generator_steps: int = 1, batch: int = 128,
                  lr: float = 1e-3, hidden: int = 64, noise_dim: int = 2,
                  snapshot_every: int = 500, n_samples: int = 2000, seed: int = 0,
                  progress=None) -> ToyGANResult:
    """Train the toy GAN; snapshots every ``snapshot_every`` rounds (and after the last).

    Parameters
    ----------
    rounds : int
        Discriminator steps; each is followed by ``generator_steps`` generator steps.
    generator_steps : int
        1 keeps the two in step (all modes); 20 lets the generator outrun the discriminator and
        shows mode collapse.
    batch : int
        Real and fake points per step.
    lr : float
        Adam step for both networks, β = (0.5, 0.999) as in DCGAN (a smaller β₁ lets the
        optimizer follow an opponent that keeps moving).
    hidden, noise_dim : int
    snapshot_every, n_samples : int
        Snapshot period (in rounds) and samples drawn per snapshot.
    seed : int
        Seeds the weights, the data and the noise: a run is reproducible.
    progress : callable or None
        Called as ``progress(round, result)`` after each snapshot (e.g. to print or plot).
    """
    if rounds < 1 or generator_steps < 1 or batch < 1 or snapshot_every < 1:
        raise ValueError("rounds, generator_steps, batch and snapshot_every must be >= 1")
    settings = dict(rounds=rounds, generator_steps=generator_steps, batch=batch, lr=lr,
                    hidden=hidden, noise_dim=noise_dim, seed=seed)
    rng = make_rng(seed)
    generator = make_generator(noise_dim, hidden, rng)
    discriminator = make_discriminator(hidden, rng)
    g_opt = nn.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    d_opt = nn.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    d_loss_fn, g_loss_fn = nn.DiscriminatorLoss("nonsaturating"), nn.GeneratorLoss("nonsaturating")
    result = ToyGANResult(generator, discriminator, settings=settings)
    fixed_noise = rng.standard_normal((n_samples, noise_dim)).astype(np.float32)
    grid = discriminator_grid()

    def noise():
        return rng.standard_normal((batch, noise_dim)).astype(np.float32)

    for round_ in range(1, rounds + 1):
        # Discriminator step: real and fake batches in one pass (the MLP treats rows apart).
        real, fake = sample_ring(batch, rng), generator(noise())
        d_opt.zero_grad()
        logits = discriminator(np.concatenate([real, fake]))
        result.d_loss.append(float(d_loss_fn(logits[:batch], logits[batch:])))
        d_real, d_fake = d_loss_fn.backward()
        discriminator.backward(np.concatenate([d_real, d_fake]))
        d_opt.step()
        # Generator steps through the frozen discriminator: its backward is G's upstream.
        for _ in range(generator_steps):
            g_opt.zero_grad()
            fake = generator(noise())
            g_loss = g_loss_fn(discriminator(fake))
            generator.backward(discriminator.backward(g_loss_fn.backward()))
            g_opt.step()
        discriminator.zero_grad()  # what the generator steps left there is not D's gradient
        result.g_loss.append(float(g_loss))
        if round_ % snapshot_every == 0 or round_ == rounds:
            samples = generator(fixed_noise)
            result.rounds.append(round_)
            result.samples.append(samples)
            result.logits.append(discriminator(grid).reshape(GRID_SIZE, GRID_SIZE))
            result.coverage.append(mode_coverage(samples))
            if progress is not None:
                progress(round_, result)
    return result
