"""The ``huffman`` image codec: lossless round trips, the predictors' payoff, hostile payloads."""

import numpy as np
import pytest

import fromscratch
from fromscratch import container
from fromscratch.data import kodak_paths, load_image


@pytest.fixture(scope="module")
def photo():
    return load_image(kodak_paths()[0])


@pytest.mark.parametrize("predictor", ["none", "left", "med"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (17, 9, 3), (1, 40, 3)])
def test_round_trip_is_exact(predictor, shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    data = fromscratch.compress(image, codec="huffman", predictor=predictor)
    np.testing.assert_array_equal(fromscratch.decompress(data), image)
    assert container.read_header(data).params == {"predictor": predictor}


def test_prediction_pays_on_a_photograph(photo):
    sizes = {p: len(fromscratch.compress(photo, codec="huffman", predictor=p))
             for p in ("none", "left", "med")}
    assert sizes["med"] < sizes["left"] < sizes["none"] < photo.nbytes
    np.testing.assert_array_equal(
        fromscratch.decompress(fromscratch.compress(photo, codec="huffman")), photo)
    constant = np.full((64, 64, 3), 7, np.uint8)
    # Huffman spends at least one bit per symbol: 1 bit per sample here, plus headers.
    assert len(fromscratch.compress(constant, codec="huffman")) <= 3 * 64 * 64 / 8 + 200


def _repack(payload: bytes, shape=(8, 8, 3)) -> bytes:
    """A container with a valid CRC around a (damaged) payload: the Huffman layer must cope."""
    return container.pack("huffman", shape, {"predictor": "med"}, payload)


def test_hostile_payloads_raise_bitstream_error(photo):
    image = photo[:8, :8]
    payload = container.unpack(fromscratch.compress(image, codec="huffman"))[1]
    rng = np.random.default_rng(1)
    cases = [b"", payload[:3], payload[:-1], payload + payload, bytes(len(payload))]
    for _ in range(2000):
        damaged = bytearray(payload)
        for _ in range(rng.integers(1, 4)):
            position = rng.integers(len(damaged))
            damaged[position] ^= 1 << rng.integers(8)
        cases.append(bytes(damaged))
    for case in cases:
        try:
            out = fromscratch.decompress(_repack(case))
        except fromscratch.BitstreamError:
            continue
        assert out.shape == image.shape and out.dtype == np.uint8
    with pytest.raises(fromscratch.BitstreamError):
        fromscratch.decompress(_repack(payload, shape=(9, 8, 3)))
