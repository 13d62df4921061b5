"""The shipped ``balle2017`` weights: complete, reproducible, ready on load, better than JPEG."""

import numpy as np
import pytest

import fromscratch
from fromscratch import data, metrics, nn
from fromscratch.codecs import get_codec
from fromscratch.codecs.balle2017 import codec as balle2017
from fromscratch.entropy.cdf_tables import cdf_tables_from_pmfs

QUALITIES = balle2017.available_qualities()


def test_at_least_four_rates_are_shipped_and_small():
    assert len(QUALITIES) >= 4
    assert tuple(range(1, len(QUALITIES) + 1)) == QUALITIES
    lambdas = []
    for quality in QUALITIES:
        path = balle2017.weights_path(quality)
        assert path.stat().st_size < 4e6, path
        hyper = nn.load_weights(path).hyperparams
        assert hyper["kind"] == "balle2017"
        assert hyper["commands"] and all(
            c.startswith("python -m fromscratch train balle2017 ") for c in hyper["commands"])
        lambdas.append(hyper["lmbda"])
    assert lambdas == sorted(lambdas) and len(set(lambdas)) == len(lambdas)
    assert balle2017.Balle2017Codec.settings == tuple({"quality": q} for q in QUALITIES)


@pytest.mark.parametrize("quality", QUALITIES)
def test_stored_tables_are_the_ones_the_density_gives(quality):
    """The integer tables in the file are derived from the stored density, not edited by hand."""
    loaded = balle2017.load_model(str(balle2017.weights_path(quality)))
    pmfs, offsets, medians = loaded.model.entropy_bottleneck.pmfs()
    cdfs, lengths, offsets = cdf_tables_from_pmfs(pmfs, offsets)
    np.testing.assert_array_equal(cdfs, loaded.cdfs)
    np.testing.assert_array_equal(lengths, loaded.cdf_lengths)
    np.testing.assert_array_equal(offsets, loaded.offsets)
    np.testing.assert_allclose(medians, loaded.medians, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def sample():
    return data.sample_image()[1][:256, :384]


@pytest.fixture(scope="module")
def coded(sample):
    """quality -> (bpp, PSNR, payload bits, estimated bits) on a crop of the sample image."""
    pixels = sample.shape[0] * sample.shape[1]
    results = {}
    for quality in QUALITIES:
        codec = get_codec("balle2017", quality=quality)
        stream = codec.encode(sample)
        decoded = fromscratch.decompress(stream)
        assert decoded.shape == sample.shape and decoded.dtype == np.uint8
        loaded = codec.model()
        estimate = loaded.estimated_bits(loaded.symbols(loaded.analysis(sample)))
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


def test_beats_pillow_jpeg_at_the_same_rate(sample, coded):
    """At the lowest rate, JPEG given at least as many bytes still reconstructs worse."""
    pixels = sample.shape[0] * sample.shape[1]
    bpp, psnr = coded[QUALITIES[0]][:2]
    for jpeg_quality in range(1, 96):
        jpeg = get_codec("pillow-jpeg", quality=jpeg_quality)
        stream = jpeg.encode(sample)
        if 8 * len(stream) / pixels >= bpp:
            break
    assert psnr > metrics.psnr(sample, jpeg.decode(stream)) + 0.5


def test_odd_sizes_are_padded_inside_the_codec(sample):
    image = np.pad(sample, ((0, 683 - sample.shape[0]), (0, 1025 - sample.shape[1]), (0, 0)),
                   mode="reflect")
    codec = get_codec("balle2017", quality=QUALITIES[0])
    decoded = fromscratch.decompress(codec.encode(image))
    assert decoded.shape == (683, 1025, 3)
    assert metrics.psnr(image, decoded) > 20
