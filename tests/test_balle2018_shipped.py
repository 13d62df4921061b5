"""The shipped ``balle2018`` weights: complete, reproducible, ready on load, honest estimates."""

import numpy as np
import pytest

import fromscratch
from fromscratch import data, metrics, nn
from fromscratch.codecs import get_codec
from fromscratch.codecs.balle2018 import codec as balle2018
from fromscratch.entropy.cdf_tables import cdf_tables_from_pmfs
from fromscratch.nn.gaussian_conditional import gaussian_pmfs, scale_table
from fromscratch.nn.integer import IntegerNetwork

QUALITIES = balle2018.available_qualities()
pytestmark = pytest.mark.skipif(not QUALITIES, reason="no balle2018 weights shipped yet")


def test_shipped_rates_are_complete_and_record_their_commands():
    assert tuple(range(1, len(QUALITIES) + 1)) == QUALITIES
    lambdas = []
    for quality in QUALITIES:
        path = balle2018.weights_path(quality)
        assert path.stat().st_size < 6e6, path
        hyper = nn.load_weights(path).hyperparams
        assert hyper["kind"] == "balle2018"
        assert hyper["commands"][-1].startswith("python -m fromscratch train balle2018 ")
        lambdas.append(hyper["lmbda"])
    assert lambdas == sorted(lambdas) and len(set(lambdas)) == len(lambdas)
    assert balle2018.Balle2018Codec.settings == tuple({"quality": q} for q in QUALITIES)


@pytest.mark.parametrize("quality", QUALITIES)
def test_stored_tables_are_the_ones_the_model_gives(quality):
    """Integer tables and the integer h_s are derived from the stored model, not edited."""
    loaded = balle2018.load_model(str(balle2018.weights_path(quality)))
    pmfs, offsets, _ = loaded.model.entropy_bottleneck.pmfs()
    for stored, derived in zip(loaded.z_tables, cdf_tables_from_pmfs(pmfs, offsets),
                               strict=True):
        np.testing.assert_array_equal(stored, derived)
    np.testing.assert_allclose(loaded.scale_table, scale_table(), rtol=1e-15)
    for stored, derived in zip(loaded.y_tables, cdf_tables_from_pmfs(*gaussian_pmfs(
            loaded.scale_table)), strict=True):
        np.testing.assert_array_equal(stored, derived)
    state = nn.load_weights(balle2018.weights_path(quality)).state
    assert state["h_s.0.weight"].dtype == np.float32  # kept exact, so this check can be made
    again = IntegerNetwork.from_float(loaded.model.h_s).arrays("x/")
    stored = loaded.h_s_int.arrays("x/")
    for name, value in again.items():
        np.testing.assert_array_equal(value, stored[name])


@pytest.fixture(scope="module")
def coded():
    """quality -> (bpp, PSNR, payload bits, estimated bits) on a crop of the sample image."""
    sample = data.sample_image()[1][:256, :384]
    pixels = sample.shape[0] * sample.shape[1]
    results = {}
    for quality in QUALITIES:
        codec = get_codec("balle2018", quality=quality)
        stream = codec.encode(sample)
        decoded = fromscratch.decompress(stream)
        assert decoded.shape == sample.shape and decoded.dtype == np.uint8
        estimate = sum(codec.estimated_bits(sample))
        results[quality] = (8 * len(stream) / pixels, metrics.psnr(sample, decoded),
                            8 * len(codec.encode_payload(sample)), estimate)
    return results


def test_rate_and_quality_rise_with_quality(coded):
    bpps = [coded[q][0] for q in QUALITIES]
    psnrs = [coded[q][1] for q in QUALITIES]
    assert bpps == sorted(bpps) and psnrs == sorted(psnrs)


def test_real_stream_matches_the_estimate_within_one_percent(coded):
    for quality, (_, _, payload_bits, estimate) in coded.items():
        assert abs(payload_bits / estimate - 1) < 0.01, (quality, payload_bits, estimate)
