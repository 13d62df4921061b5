"""The toy GAN of chapter 5: mode collapse when the generator outruns the discriminator, all
eight modes when the two stay in step (seeded, a few seconds each)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from fromscratch.training import toy_gan, toy_gan_plots

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def in_step():
    return toy_gan.train_toy_gan(1500, generator_steps=1, snapshot_every=500, seed=0)


@pytest.fixture(scope="module")
def collapsing():
    return toy_gan.train_toy_gan(200, generator_steps=20, snapshot_every=50, seed=0)


def test_ring_samples_and_coverage_of_the_data_itself():
    real = toy_gan.sample_ring(4000, 0)
    assert real.shape == (4000, 2) and real.dtype == np.float32
    # within 3σ in two dimensions: 1 - exp(-9/2) = 98.9 % of a Gaussian
    assert toy_gan.mode_coverage(real) == (8, pytest.approx(0.989, abs=0.01))
    one_mode = real[np.linalg.norm(real - toy_gan.ring_centers()[3], axis=1) < 0.5]
    assert toy_gan.mode_coverage(one_mode)[0] == 1


def test_in_step_training_covers_the_ring(in_step):
    covered, quality = in_step.coverage[-1]
    assert covered >= 7
    assert quality > 0.2  # still sharpening: 0.66 after 3000 rounds
    assert len(in_step.d_loss) == 1500 and np.all(np.isfinite(in_step.d_loss))


def test_generator_outrunning_the_discriminator_collapses(collapsing, in_step):
    assert max(c for c, _ in collapsing.coverage) <= 3
    assert collapsing.modes_covered < in_step.modes_covered
    # The samples form a lump: far less spread than the ring's (radius 2) or the healthy run's.
    spread = np.linalg.norm(collapsing.samples[-1] - collapsing.samples[-1].mean(0), axis=1)
    healthy = np.linalg.norm(in_step.samples[-1] - in_step.samples[-1].mean(0), axis=1)
    assert np.median(spread) < 0.5 * np.median(healthy)


def test_runs_are_reproducible_and_snapshots_complete():
    a = toy_gan.train_toy_gan(30, snapshot_every=10, n_samples=50, seed=5)
    b = toy_gan.train_toy_gan(30, snapshot_every=10, n_samples=50, seed=5)
    assert a.rounds == [10, 20, 30]
    np.testing.assert_array_equal(a.samples[-1], b.samples[-1])
    assert a.logits[0].shape == (toy_gan.GRID_SIZE, toy_gan.GRID_SIZE)
    with pytest.raises(ValueError):
        toy_gan.train_toy_gan(0)


def test_plots_draw(in_step, collapsing):
    axes = toy_gan_plots.plot_snapshots(in_step, title="in step, ")
    assert len(axes) == len(in_step.rounds)
    ax = toy_gan_plots.plot_coverage({"1:1": in_step, "20 G steps": collapsing})
    assert len(ax.get_lines()) == 2
    matplotlib.pyplot.close("all")
