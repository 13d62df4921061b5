"""Video codecs: round trips, closed loop (no drift), random access, the container, bad input."""

import struct
from fractions import Fraction

import numpy as np
import pytest

import fromscratch
from fromscratch.codecs.video import get_video_codec, read_video_header
from fromscratch.codecs.video.container import MAGIC, pack_video
from fromscratch.data import load_video
from fromscratch.metrics import psnr


@pytest.fixture(scope="module")
def clip():
    frames, fps = load_video("pan")
    return frames, fps


def mean_psnr(a, b):
    return float(np.mean([psnr(x, y) for x, y in zip(a, b, strict=True)]))


def test_names():
    assert {"mc-dct", "intra-jpeg"} <= set(fromscratch.video_codec_names())


@pytest.mark.parametrize("search", ["diamond", "full"])
def test_closed_loop_no_drift(clip, search):
    """The decoder's frames equal the encoder's own reconstruction, bit for bit, over GOPs."""
    frames, _ = clip
    codec = get_video_codec("mc-dct", quality=40, gop=6, search=search)
    payloads, recon = codec.encode_with_reconstruction(frames)
    assert [kind for kind, _ in payloads] == list("IPPPPPIPPP")
    data = codec.encode(frames)
    decoded = fromscratch.decompress_video(data)
    np.testing.assert_array_equal(decoded, recon)
    assert mean_psnr(frames, decoded) > 30


def test_decoder_planes_equal_encoder_planes(clip):
    frames, _ = clip
    codec = get_video_codec("mc-dct", quality=60, gop=10)
    results = codec.encode_verbose(frames)
    _, infos = codec.decode_verbose([p for _, p in results], [i.kind for i, _ in results],
                                    frames.shape)
    for (enc, _), dec in zip(results, infos, strict=True):
        for a, b in zip(enc.planes, dec.planes, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(enc.modes, dec.modes)
        np.testing.assert_array_equal(enc.vectors, dec.vectors)


def test_p_frames_are_cheaper_and_use_motion(clip):
    frames, _ = clip
    codec = get_video_codec("mc-dct", quality=50)
    results = codec.encode_verbose(frames)
    sizes = [info.n_bytes for info, _ in results]
    assert max(sizes[1:]) < sizes[0] / 2
    p_info = results[3][0]
    assert np.count_nonzero(p_info.vectors) > 0 and set(np.unique(p_info.modes)) <= {0, 1, 2}


def test_mc_dct_beats_intra_jpeg(clip):
    frames, _ = clip
    mc = fromscratch.compress_video(frames, quality=50)
    jpeg = fromscratch.compress_video(frames, codec="intra-jpeg", quality=50)
    assert mean_psnr(frames, fromscratch.decompress_video(mc)) >= mean_psnr(
        frames, fromscratch.decompress_video(jpeg)) - 0.5
    assert len(mc) < 0.5 * len(jpeg)


def test_quality_is_monotone(clip):
    frames, _ = clip
    sizes = [len(fromscratch.compress_video(frames[:4], quality=q)) for q in (10, 50, 90)]
    assert sizes[0] < sizes[1] < sizes[2]


def test_gray_and_odd_sizes():
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (40, 60), dtype=np.uint8)
    frames = np.stack([np.roll(base, t, axis=1)[:37, :53] for t in range(5)])
    for shape in (frames, np.repeat(frames[..., None], 3, axis=3)):
        codec = get_video_codec("mc-dct", quality=90, gop=4)
        _, recon = codec.encode_with_reconstruction(shape)
        decoded = fromscratch.decompress_video(codec.encode(shape))
        assert decoded.shape == shape.shape
        np.testing.assert_array_equal(decoded, recon)


def test_random_access_from_any_frame(clip):
    frames, _ = clip
    data = fromscratch.compress_video(frames, quality=50, gop=4, fps=Fraction(30000, 1001))
    header = read_video_header(data)
    assert header.fps == Fraction(30000, 1001) and header.frame_types[4] == "I"
    full = fromscratch.decompress_video(data)
    for start in (0, 3, 4, 7):
        np.testing.assert_array_equal(fromscratch.decompress_video(data, start=start),
                                      full[start:])
    np.testing.assert_array_equal(fromscratch.decompress_video(data, 5, 7), full[5:7])


def test_intra_jpeg_round_trip(clip):
    frames, _ = clip
    data = fromscratch.compress_video(frames[:3], codec="intra-jpeg", quality=80)
    decoded = fromscratch.decompress_video(data)
    assert decoded.shape == frames[:3].shape and mean_psnr(frames[:3], decoded) > 32
    one = fromscratch.compress(frames[1], codec="jpeg", quality=80, optimize=True)
    np.testing.assert_array_equal(decoded[1], fromscratch.decompress(one))


# --- bad input ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stream(clip):
    return fromscratch.compress_video(clip[0][:5], quality=50, gop=3)


def test_truncated_streams_raise(stream):
    for cut in [0, 3, 5, 10, 30, 60, len(stream) // 2, len(stream) - 5, len(stream) - 1]:
        with pytest.raises(fromscratch.BitstreamError):
            fromscratch.decompress_video(stream[:cut])


def test_corrupted_streams_raise(stream):
    rng = np.random.default_rng(7)
    for _ in range(40):
        damaged = bytearray(stream)
        damaged[rng.integers(len(stream))] ^= 1 << rng.integers(8)
        with pytest.raises(fromscratch.BitstreamError):
            fromscratch.decompress_video(bytes(damaged))


def _repack(stream, mutate):
    """Rewrite the payloads of ``stream`` (with a valid CRC) after ``mutate``."""
    header = read_video_header(stream)
    base = header.payload_offset
    frames = [(k, bytearray(stream[base + o : base + o + n])) for k, o, n in
              zip(header.frame_types, header.offsets, header.lengths, strict=True)]
    mutate(frames)
    return pack_video(header.codec, header.shape, header.fps, header.params,
                      [(k, bytes(p)) for k, p in frames])


def test_fuzzed_payloads_never_crash(stream):
    """Damage behind a valid CRC: a BitstreamError or frames of the right shape, nothing else."""
    rng = np.random.default_rng(11)
    shape = read_video_header(stream).shape
    outcomes = set()
    for trial in range(150):
        def mutate(frames, trial=trial):
            _, payload = frames[trial % len(frames)]
            if trial % 3 == 0:
                del payload[rng.integers(len(payload)):]
            else:
                for _ in range(rng.integers(1, 4)):
                    payload[rng.integers(len(payload))] = rng.integers(256)
        data = _repack(stream, mutate)
        try:
            frames = fromscratch.decompress_video(data)
        except fromscratch.BitstreamError:
            outcomes.add("error")
            continue
        outcomes.add("frames")
        assert frames.shape == shape and frames.dtype == np.uint8
    assert "error" in outcomes


def test_random_bytes_raise():
    rng = np.random.default_rng(2)
    for n in (0, 4, 20, 200):
        with pytest.raises(fromscratch.BitstreamError):
            fromscratch.decompress_video(MAGIC + rng.integers(0, 256, n, dtype=np.uint8).tobytes())


@pytest.mark.parametrize("field,value", [("frames", 10**9), ("height", 10**6), ("width", 0)])
def test_absurd_headers_are_refused_before_allocating(stream, field, value):
    header = read_video_header(stream)
    name_end = 6 + len(header.codec)
    height, width, channels, n_frames, num, den, p = struct.unpack_from(">IIBIIIH", stream,
                                                                        name_end)
    fields = {"height": height, "width": width, "frames": n_frames}
    fields[field] = value
    forged = bytearray(stream)
    struct.pack_into(">IIBIIIH", forged, name_end, fields["height"], fields["width"], channels,
                     fields["frames"], num, den, p)
    with pytest.raises(fromscratch.BitstreamError, match=r"refusing|truncated"):
        fromscratch.decompress_video(bytes(forged))


def test_bad_parameters_and_frames():
    with pytest.raises(ValueError):
        fromscratch.compress_video(np.zeros((2, 16, 16, 3), np.uint8), quality=0)
    with pytest.raises(ValueError):
        fromscratch.compress_video(np.zeros((2, 16, 16, 3), np.uint8), search="three-step")
    with pytest.raises(ValueError):
        fromscratch.compress_video(np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(ValueError):
        fromscratch.compress_video(np.zeros((16, 16, 3), np.uint8)[None, ..., None])
    with pytest.raises(TypeError):
        fromscratch.decompress_video("not bytes")
