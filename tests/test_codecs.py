"""The codec interface, the registry, the top-level API and the reference codecs."""

from typing import ClassVar

import numpy as np
import pytest

import fromscratch
from fromscratch import metrics
from fromscratch.codecs import (
    Codec,
    ContainerCodec,
    Parameter,
    as_image,
    codec_class,
    codec_names,
    get_codec,
    register,
)
from fromscratch.data import kodak_paths, load_image

REFERENCES = ["pillow-jpeg", "pillow-webp", "pillow-jpeg2000", "pillow-png", "pillow-avif"]
try:  # HEVC only where the optional pillow-heif is installed
    import pillow_heif  # noqa: F401

    REFERENCES.append("pillow-heif")
except ImportError:
    pass


@pytest.fixture(scope="module")
def photo():
    return load_image(sorted(kodak_paths())[0])[:200, :240]


def test_registry_lists_from_scratch_codecs_first():
    names = codec_names()
    assert "raw" in names and set(REFERENCES) <= set(names)
    assert codec_names(from_scratch=True)[0] == names[0]
    assert set(codec_names(from_scratch=False)) == set(REFERENCES)
    for name in names:
        assert isinstance(get_codec(name), Codec)
    with pytest.raises(ValueError, match="unknown codec"):
        get_codec("no-such-codec")


@pytest.mark.parametrize("shape", [(1, 1), (17, 33), (16, 9, 3), (5, 4, 1)])
def test_raw_round_trip_is_exact(shape):
    image = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    data = fromscratch.compress(image, codec="raw")
    out = fromscratch.decompress(data)
    np.testing.assert_array_equal(out, image.reshape(out.shape))
    assert len(data) == image.size + 4 + 2 + 3 + 11 + 2 + 4 + 4  # pixels + header + CRC
    assert fromscratch.decompress(data + b"\0junk").shape == out.shape


def test_images_are_validated():
    with pytest.raises(ValueError, match="uint8"):
        as_image(np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        as_image(np.zeros((4, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="empty"):
        as_image(np.zeros((0, 4), dtype=np.uint8))
    assert as_image(np.zeros((3, 2, 1), dtype=np.uint8)).shape == (3, 2)


def test_parameters_are_validated_and_converted():
    codec = get_codec("pillow-jpeg", quality="50", optimize="true")
    assert codec.params == {"quality": 50, "subsampling": "4:2:0", "optimize": True}
    for bad in ({"quality": 0}, {"quality": 101}, {"quality": "high"}, {"quality": 2.5},
                {"subsampling": "4:1:1"}, {"optimize": "maybe"}, {"colour": 1}):
        with pytest.raises(ValueError):
            get_codec("pillow-jpeg", **bad)
    assert Parameter(1.0, float, 0, 2).validate("x", "1.5") == 1.5


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_codecs_round_trip_through_decompress(name, photo):
    for image in (photo, photo[:, :, 1]):
        data = fromscratch.compress(image, codec=name)
        assert get_codec(name).sniff(data)
        out = fromscratch.decompress(data)
        if name in ("pillow-webp", "pillow-avif") and out.ndim == 3 and image.ndim == 2:
            # WebP has no grayscale mode (AVIF may store colour)
            assert out.shape == (*image.shape, 3)
            out = out[:, :, 1]
        assert out.shape == image.shape and out.dtype == np.uint8
        if name == "pillow-png":
            np.testing.assert_array_equal(out, image)
        else:
            assert 22 < metrics.psnr(image, out) < 60


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_codecs_rate_grows_with_quality(name, photo):
    cls = codec_class(name)
    sizes = [len(get_codec(name, **s).encode(photo)) for s in cls.settings]
    assert sizes == sorted(sizes), "settings must run from the lowest rate up"
    assert not cls.from_scratch


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_decoders_raise_bitstream_error(name, photo):
    codec = get_codec(name)
    data = codec.encode(photo)
    for bad in (data[: len(data) // 2], data[:20], b"", b"hello world" * 10):
        with pytest.raises(fromscratch.BitstreamError):
            codec.decode(bad)


def test_decompress_refuses_unknown_data_and_types():
    with pytest.raises(fromscratch.BitstreamError, match="unrecognised"):
        fromscratch.decompress(b"GIF89a....")
    with pytest.raises(TypeError):
        fromscratch.decompress("not bytes")


def test_a_new_codec_joins_through_the_registry():
    @register
    class Invert(ContainerCodec):
        name = "test-invert"
        parameters: ClassVar[dict] = {"offset": Parameter(0, int, 0, 255)}

        def encode_payload(self, image):
            return (255 - image).tobytes()

        def decode_payload(self, payload, shape):
            return 255 - np.frombuffer(payload, np.uint8).reshape(shape)

    try:
        image = np.arange(12, dtype=np.uint8).reshape(3, 4)
        data = fromscratch.compress(image, codec="test-invert", offset=3)
        np.testing.assert_array_equal(fromscratch.decompress(data), image)
        with pytest.raises(fromscratch.BitstreamError, match="raw"):
            get_codec("raw").decode(data)
        # A header whose parameters the codec rejects is bad data, not a crash.
        bad = fromscratch.container.pack("test-invert", (3, 4), {"offset": 999}, bytes(12))
        with pytest.raises(fromscratch.BitstreamError, match="parameters"):
            fromscratch.decompress(bad)
        with pytest.raises(ValueError, match="already taken"):
            register(type("Other", (Invert,), {}))
    finally:
        from fromscratch.codecs import base

        base._REGISTRY.pop("test-invert")


def test_stream_from_an_unknown_codec_is_a_bitstream_error():
    data = fromscratch.container.pack("from-the-future", (2, 2), {}, bytes(4))
    with pytest.raises(fromscratch.BitstreamError, match="from-the-future"):
        fromscratch.decompress(data)
