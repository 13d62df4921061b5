"""The gan2017 codec: balle2017's bytes with a fine-tuned decoder. Round trips of any size and
gray images, the same bytes as balle2017, hostile streams (fuzzed), the shipped files."""

from __future__ import annotations

import re
import shlex

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fromscratch
from fromscratch import nn
from fromscratch.codecs import get_codec
from fromscratch.codecs.balle2017 import codec as balle2017

QUALITIES = balle2017.available_qualities("gan2017")
pytestmark = pytest.mark.skipif(not QUALITIES, reason="no gan2017 weights shipped")

IMAGE = np.random.default_rng(4).integers(0, 256, (48, 64, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def codec():
    return get_codec("gan2017", quality=QUALITIES[0])


def test_shipped_files_record_their_source_and_commands():
    for quality in QUALITIES:
        hyper = nn.load_weights(balle2017.weights_path(quality, "gan2017")).hyperparams
        assert hyper["kind"] == "gan2017"
        assert hyper["source"].endswith(".npz")
        # The source is a balle2017 model (shipped or trained for this quality): its training
        # commands come first in the chain, the adversarial fine-tune last.
        assert any(c.startswith("python -m fromscratch train balle2017 ")
                   for c in hyper["commands"])
        assert hyper["commands"][-1].startswith("python -m fromscratch train gan2017 ")
        assert balle2017.weights_path(quality, "gan2017").stat().st_size < 4e6


@pytest.mark.parametrize("shape", [(1, 1, 3), (17, 33, 3), (40, 23), (16, 16, 3)])
def test_round_trip_any_size_and_gray(codec, shape):
    image = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    data = codec.encode(image)
    out = fromscratch.decompress(data)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert codec.encode(image) == data


def _shipped_sources():
    """(gan2017 quality, balle2017 quality) for the models whose source file ships."""
    pairs = []
    for quality in QUALITIES:
        source = nn.load_weights(balle2017.weights_path(quality, "gan2017")).hyperparams["source"]
        number = source.removeprefix("balle2017_q").removesuffix(".npz")
        if number.isdigit() and int(number) in balle2017.available_qualities():
            pairs.append((quality, int(number)))
    return pairs


def test_same_payload_as_balle2017_other_pixels():
    """The encoder and tables are the source's: identical payload bytes, different decoding."""
    pairs = _shipped_sources()
    assert pairs, "at least one gan2017 model decodes a shipped balle2017 model's bytes"
    for quality, source_quality in pairs:
        codec = get_codec("gan2017", quality=quality)
        reference = get_codec("balle2017", quality=source_quality)
        payload = codec.encode_payload(IMAGE)
        assert payload == reference.encode_payload(IMAGE)
        ours = codec.decode_payload(payload, IMAGE.shape)
        theirs = reference.decode_payload(payload, IMAGE.shape)
        assert not np.array_equal(ours, theirs)


def test_bad_streams_raise_bitstream_error(codec):
    data = codec.encode(IMAGE)
    for bad in (data[: len(data) // 2], data[:10], b""):
        with pytest.raises(fromscratch.BitstreamError):
            codec.decode(bad)
    with pytest.raises(fromscratch.BitstreamError, match="at most"):
        codec.decode_payload(codec.encode_payload(IMAGE), (5000, 5000, 3))
    with pytest.raises(ValueError, match="gan2017: a 8000 x 8000 image needs about"):
        codec.encode_payload(np.zeros((8000, 8000), np.uint8))


SMALL = IMAGE[:16, :32]


@settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.too_slow],
          database=None)
@given(st.data())
def test_damaged_payloads_decode_or_raise(codec, data):
    payload = bytearray(codec.encode_payload(SMALL))
    if data.draw(st.booleans()):
        payload = payload[: data.draw(st.integers(0, len(payload)))]
    else:
        for bit in data.draw(st.lists(st.integers(0, 8 * len(payload) - 1), min_size=1,
                                      max_size=8)):
            payload[bit // 8] ^= 1 << (bit % 8)
    try:
        out = codec.decode_payload(bytes(payload), SMALL.shape)
    except fromscratch.BitstreamError:
        return
    assert out.shape == SMALL.shape and out.dtype == np.uint8


def test_missing_weights_name_the_file():
    with pytest.raises(nn.WeightsError, match=r"gan2017_q77\.npz"):
        get_codec("gan2017", quality=77).encode(np.zeros((16, 16, 3), np.uint8))


def test_a_codec_from_an_explicit_weight_file(codec, tmp_path):
    """``from_weights``: a model that is not shipped (an ablation, an export) by its path; its
    streams decode with it, and the file's kind is checked."""
    path = tmp_path / "ablation.npz"
    path.write_bytes(balle2017.weights_path(QUALITIES[0], "gan2017").read_bytes())
    by_path = fromscratch.codecs.gan2017.Gan2017Codec.from_weights(path)
    assert by_path.weights_file == path and "from_weights" in repr(by_path)
    data = by_path.encode(IMAGE)
    assert by_path.encode_payload(IMAGE) == codec.encode_payload(IMAGE)
    np.testing.assert_array_equal(by_path.decode(data), codec.decode(codec.encode(IMAGE)))
    assert by_path.with_params(quality=5).weights_file == path
    with pytest.raises(nn.WeightsError, match="not a gan2017 weight file"):
        fromscratch.codecs.gan2017.Gan2017Codec.from_weights(balle2017.weights_path(1))
    with pytest.raises(nn.WeightsError, match="no such weight file"):
        fromscratch.codecs.gan2017.Gan2017Codec.from_weights(tmp_path / "missing.npz")


def test_shipped_ablations_match_their_gan2017_model():
    """Each ablation is its model's fine-tune without the adversary: same source, same steps."""
    ablations = sorted(balle2017.WEIGHTS_DIR.glob("gan2017_ablation_q*.npz"))
    for path in ablations:
        quality = int(path.stem.removeprefix("gan2017_ablation_q"))
        ablation = nn.load_weights(path).hyperparams
        model = nn.load_weights(balle2017.weights_path(quality, "gan2017")).hyperparams
        assert ablation["beta"] == 0 and model["beta"] > 0
        assert (ablation["source"], ablation["steps"]) == (model["source"], model["steps"])
        # segment by segment: the same steps and distortion weights, the adversary's set to 0
        assert _fine_tune_segments(ablation["commands"]) == _fine_tune_segments(model["commands"])
        assert all(beta == 0 for beta in _fine_tune_betas(ablation["commands"]))


def _fine_tune_options(commands):
    """Each ``train gan2017`` command of a chain: (step reached, its options)."""
    from fromscratch.training import gan2017 as trainer

    parser = trainer.build_parser()
    for line in commands:
        if "train gan2017" in line:
            argv = shlex.split(line.split("#", 1)[0])[5:]
            yield int(re.search(r"reached step (\d+)", line).group(1)), parser.parse_args(argv)


def _fine_tune_segments(commands):
    return [(reached, args.mse_weight, args.warmup, args.d_width, args.pool, args.seed)
            for reached, args in _fine_tune_options(commands)]


def _fine_tune_betas(commands):
    return [args.beta for _, args in _fine_tune_options(commands)]
