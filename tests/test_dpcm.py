"""DPCM predictors: exact inversion, the Numba kernel against its Python twin, and the payoff."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fromscratch.data import kodak_paths, load_image
from fromscratch.entropy.huffman import entropy, symbol_counts
from fromscratch.transforms import dpcm

images = st.one_of(
    arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9))),
    arrays(np.uint8, st.tuples(st.integers(1, 7), st.integers(1, 7), st.just(3))),
)


@settings(max_examples=150, deadline=None, database=None)
@given(images, st.sampled_from(dpcm.PREDICTORS))
def test_reconstruct_inverts_residuals_and_matches_the_reference(image, predictor):
    res = dpcm.residuals(image, predictor)
    assert res.dtype == np.uint8 and res.shape == image.shape
    np.testing.assert_array_equal(dpcm.reconstruct(res, predictor), image)
    np.testing.assert_array_equal(dpcm.reconstruct_reference(res, predictor), image)


def test_med_prediction_by_hand():
    image = np.array([[10, 20], [30, 0]], dtype=np.uint8)
    # a=30 (left), b=20 (above), c=10 (above-left): c <= min(a, b) -> predict max(a, b) = 30.
    assert dpcm.predict(image, "med")[1, 1] == 30
    image[0, 0] = 40  # c >= max(a, b) -> min(a, b) = 20
    assert dpcm.predict(image, "med")[1, 1] == 20
    image[0, 0] = 25  # in between -> a + b - c = 25
    assert dpcm.predict(image, "med")[1, 1] == 25
    np.testing.assert_array_equal(dpcm.predict(image, "left"), [[0, 25], [25, 30]])
    assert dpcm.residuals(np.array([[5, 3]], np.uint8), "left").tolist() == [[5, 254]]


def test_prediction_lowers_the_entropy_of_a_photograph():
    image = load_image(kodak_paths()[0])
    bits = {p: entropy(symbol_counts(dpcm.residuals(image, p).ravel(), 256))
            for p in dpcm.PREDICTORS}
    assert bits["med"] < bits["left"] < bits["none"] - 1.0


def test_bad_arguments():
    with pytest.raises(ValueError):
        dpcm.residuals(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError):
        dpcm.residuals(np.zeros((4, 4), np.uint8), "paeth")
