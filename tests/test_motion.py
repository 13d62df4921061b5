"""Motion search and compensation: the Numba kernels pinned to their NumPy twins, and sanity."""

import numpy as np
import pytest

from fromscratch.data import load_video
from fromscratch.transforms import motion


@pytest.fixture(scope="module")
def pan():
    frames, _ = load_video("pan", data=None)
    return frames[..., 1]  # green as a stand-in luma, 112 x 144


@pytest.mark.parametrize("method", ["full", "diamond"])
@pytest.mark.parametrize("half_pel", [False, True])
def test_kernels_match_numpy_twins(pan, method, half_pel):
    for t in (1, 5):
        fast = motion.motion_search(pan[t], pan[t - 1], 6, method, half_pel)
        slow = motion.motion_search(pan[t], pan[t - 1], 6, method, half_pel, use_numba=False)
        np.testing.assert_array_equal(fast[0], slow[0])
        np.testing.assert_array_equal(fast[1], slow[1])


def test_kernels_match_on_noise():
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, (48, 64), dtype=np.uint8)
    cur = rng.integers(0, 256, (48, 64), dtype=np.uint8)
    for method in motion.SEARCH_METHODS:
        fast = motion.motion_search(cur, ref, 4, method)
        slow = motion.motion_search(cur, ref, 4, method, use_numba=False)
        np.testing.assert_array_equal(fast[0], slow[0])


def test_full_search_finds_a_known_shift():
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (96, 112), dtype=np.uint8)
    ref, cur = big[16:80, 16:96], big[13:77, 18:98]  # cur[y, x] = ref[y - 3, x + 2]
    vectors, sad = motion.motion_search(cur, ref, 7, "full")
    inner = vectors[1:-1, 1:-1]
    assert np.all(inner[..., 0] == -6) and np.all(inner[..., 1] == 4)
    assert np.all(sad[1:-1, 1:-1] == 0)


def test_half_pel_finds_a_half_pixel_shift():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (64, 81)).astype(np.int32)
    ref = base[:, :80].astype(np.uint8)
    cur = ((base[:, :80] + base[:, 1:] + 1) >> 1).astype(np.uint8)  # moved by half a pixel
    vectors, sad = motion.motion_search(cur, ref, 4, "full", half_pel=True)
    assert np.all(vectors[:, :-1, 1] == 1) and np.all(vectors[..., 0] == 0)
    assert np.all(sad[:, :-1] == 0)


def test_diamond_is_close_to_full(pan):
    full = motion.motion_search(pan[3], pan[2], 8, "full", half_pel=False)[1].sum()
    diamond = motion.motion_search(pan[3], pan[2], 8, "diamond", half_pel=False)[1].sum()
    assert full <= diamond <= 1.2 * full


def test_compensation_twins_and_residual_energy(pan):
    vectors, _ = motion.motion_search(pan[4], pan[3], 8)
    pred = motion.compensate(pan[3], vectors)
    np.testing.assert_array_equal(pred, motion.compensate(pan[3], vectors, use_numba=False))
    chroma = motion.chroma_vectors(vectors)
    half = np.ascontiguousarray(pan[3, ::2, ::2])
    np.testing.assert_array_equal(motion.compensate(half, chroma, 8),
                                  motion.compensate(half, chroma, 8, use_numba=False))
    before = np.sum((pan[4].astype(float) - pan[3]) ** 2)
    after = np.sum((pan[4].astype(float) - pred) ** 2)
    assert after < 0.5 * before


def test_chroma_vectors_truncate_toward_zero():
    v = np.array([[[3, -3], [-1, 4]]])
    np.testing.assert_array_equal(motion.chroma_vectors(v), [[[1, -1], [0, 2]]])


def test_search_offsets_nearest_first():
    offsets = motion.search_offsets(2)
    assert offsets.shape == (25, 2) and tuple(offsets[0]) == (0, 0)
    assert np.all(np.diff(np.abs(offsets).sum(axis=1)) >= 0)


def test_bad_arguments():
    a = np.zeros((32, 32), np.uint8)
    with pytest.raises(ValueError):
        motion.motion_search(a, a[:16], 4)
    with pytest.raises(ValueError):
        motion.motion_search(a, a, 4, "three-step")
    with pytest.raises(ValueError):
        motion.motion_search(a[:20], a[:20], 4)
