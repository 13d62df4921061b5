"""Chapter 6's codec: gradients of the whole model, the training script, the same tables on every
machine, real bytes, bad input."""

import contextlib
import math

import numpy as np
import pytest

import fromscratch
from fromscratch import nn
from fromscratch.codecs import get_codec
from fromscratch.codecs.balle2017.model import RateDistortionLoss
from fromscratch.codecs.balle2018 import codec as balle2018
from fromscratch.codecs.balle2018.model import Balle2018
from fromscratch.entropy import range_coder
from fromscratch.nn import gaussian_conditional
from fromscratch.nn.gaussian_conditional import scale_indexes
from fromscratch.nn.integer import integer_network_reference
from fromscratch.training import balle2017 as training2017
from fromscratch.training import balle2018 as training

TINY = ["--n", "4", "--m", "6", "--crop", "64", "--batch", "1", "--quiet"]


def test_whole_model_gradients_match_finite_differences(monkeypatch):
    # the backward pass differentiates the exact Gaussian; check it against the exact erfc
    # (the fitted one's slope is off by ~1e-5, see test_nn_gaussian_conditional)
    exact = np.vectorize(math.erfc, otypes=[np.float64])
    monkeypatch.setattr(gaussian_conditional, "erfc", exact)
    model = Balle2018(3, 4, rng=0, dtype="float64", xp=np)
    rng = np.random.default_rng(1)
    for p in model.h_s.parameters():  # biases off zero, so the final ReLU is not all dead
        if p.data.ndim == 1:
            p.data += rng.uniform(0.5, 2.0, p.shape)
    # a floor passes gradients that raise the value (by design), which finite differences do
    # not see: keep every value off the floors here (their rule is tested with the layers)
    model.gaussian_conditional.scale_bound = 1e-6
    model.gaussian_conditional.likelihood_bound = 1e-300
    model.entropy_bottleneck.likelihood_bound = 1e-300
    x = rng.uniform(0, 1, (1, 3, 64, 64))
    # a small lambda: the untrained synthesis is far off, and a loss of 1e4 would drown the
    # rate's gradients in the finite differences' rounding (1e-16 * 1e4 / eps)
    loss = RateDistortionLoss(1e-5)

    def total(_):
        model.entropy_bottleneck.rng = np.random.default_rng(5)  # the same noise every call
        model.gaussian_conditional.rng = np.random.default_rng(6)
        return loss.forward(*model.forward(x), x)["loss"]

    total(None)
    model.zero_grad()
    model.backward(*loss.backward())
    checked = set()
    for name, p in model.named_parameters():
        if p.data.size > 40:  # the 5x5 kernels: too many entries to difference them all
            continue
        numeric = nn.numerical_gradient(total, p.data, eps=1e-6)
        scale = max(np.abs(p.grad).max(), 1e-3)
        assert np.abs(numeric - p.grad).max() / scale < 1e-4, name
        checked.add(name.split(".")[0])
    assert checked == {"g_a", "g_s", "h_a", "h_s", "entropy_bottleneck"}


def test_frozen_transforms_train_only_the_hyperprior():
    model = Balle2018(3, 4, rng=0, xp=np)
    model.freeze_transforms = True
    x = np.random.default_rng(2).uniform(0, 1, (1, 3, 64, 64)).astype(np.float32)
    loss = RateDistortionLoss(0.05)
    model.zero_grad()
    stats = loss.forward(*model.forward(x), x)
    assert model.backward(*loss.backward()) is None
    assert len(stats["bpp_parts"]) == 2 and np.isclose(sum(stats["bpp_parts"]), stats["bpp"])
    for name, p in model.named_parameters():
        frozen = name.startswith(("g_a", "g_s"))
        assert (np.abs(p.grad).max() == 0) == frozen or name.endswith("bias"), name


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A tiny model: balle2017 for 2 steps, then balle2018 warm-started from it, exported."""
    folder = tmp_path_factory.mktemp("weights")
    start = folder / "b17.npz"
    assert training2017.main(["--lmbda", "0.01", "--steps", "2", "--export", str(start),
                              *TINY[:4], "--crop", "32", "--batch", "1", "--quiet"]) == 0
    argv = ["--lmbda", "0.01", "--steps", "3", "--init-from", str(start), "--checkpoint",
            str(folder / "ck.npz"), "--export", str(folder / "balle2018_q1.npz"), *TINY]
    assert training.main(argv) == 0
    return folder


@pytest.fixture
def codec(tiny_weights, monkeypatch):
    monkeypatch.setattr(balle2018, "WEIGHTS_DIR", tiny_weights)
    balle2018.load_model.cache_clear()
    yield get_codec("balle2018", quality=1)
    balle2018.load_model.cache_clear()


def test_warm_start_export_and_resume(tiny_weights):
    weights = nn.load_weights(tiny_weights / "balle2018_q1.npz")
    start = nn.load_weights(tiny_weights / "b17.npz")
    for name, value in start.state.items():  # g_a and g_s came from chapter 4's file
        if name.startswith(("g_a", "g_s")) and value.ndim == 1:
            assert not np.array_equal(weights.state[name], 0 * value) or not value.any()
    commands = weights.hyperparams["commands"]
    assert commands[0].startswith("python -m fromscratch train balle2017")
    assert commands[1].startswith("python -m fromscratch train balle2018")
    assert weights.extra["y_cdfs"].shape[0] == 64 and weights.extra["thresholds"].size == 63
    assert training.main(["--lmbda", "0.01", "--steps", "4", "--checkpoint",
                          str(tiny_weights / "ck.npz"), *TINY]) == 0
    hyper = nn.load_weights(tiny_weights / "ck.npz").hyperparams
    assert hyper["step"] == 4 and hyper["kind"] == "balle2018-checkpoint"
    assert [c.split("  # ")[1] for c in hyper["commands"][1:]] == ["reached step 3",
                                                                   "reached step 4"]


def test_warm_start_refuses_other_kinds(tmp_path):
    path = tmp_path / "other.npz"
    nn.save_weights(path, {}, {"kind": "mlp1987"})
    with pytest.raises(nn.WeightsError, match="mlp1987"):
        training.main(["--lmbda", "0.01", "--steps", "1", "--init-from", str(path), *TINY])


@pytest.mark.parametrize("shape", [(1, 1, 3), (17, 33, 3), (40, 23), (64, 64, 3), (70, 130, 3)])
def test_round_trip_any_size(codec, shape):
    image = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    data = codec.encode(image)
    out = fromscratch.decompress(data)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert codec.encode(image) == data  # deterministic bytes


def test_decoder_recomputes_the_encoders_tables(codec):
    image = np.random.default_rng(3).integers(0, 256, (70, 130, 3), dtype=np.uint8)
    loaded = codec.model()
    z_symbols, y_symbols = codec.symbols(image)
    payload = codec.encode_payload(image)
    z_length = int.from_bytes(payload[:4], "big")
    y_shape, z_shape = loaded.latent_shapes(70, 130)
    assert z_symbols.shape == z_shape and y_symbols.shape == y_shape
    decoded = range_coder.decode_with_indexes(payload[4 + z_length:],
                                              loaded.y_indexes(z_symbols).ravel(),
                                              *loaded.y_tables)
    assert np.array_equal(decoded.reshape(y_shape), y_symbols)


def test_integer_scales_equal_the_pure_python_twin(codec):
    loaded = codec.model()
    z_symbols = np.random.default_rng(4).integers(-3, 4, (4, 1, 2)).astype(np.int32)
    bits = loaded.h_s_int.activation_bits
    z_int = (z_symbols.astype(np.int64) << bits) + loaded.z_medians_int[:, None, None]
    assert loaded.integer_scales(z_symbols).tolist() == integer_network_reference(
        loaded.h_s_int, z_int.tolist())


def test_a_few_ulps_break_a_float_decoder_but_not_the_integer_one(codec):
    """The failure the integer hyper-synthesis rules out, shown on a float decoder."""
    loaded = codec.model()
    table = loaded.scale_table
    rng = np.random.default_rng(5)
    y_symbols = rng.integers(-2, 3, 200).astype(np.int32)
    # the encoder's float h_s put one scale exactly on a table entry...
    scales = rng.uniform(0.5, 4, 200).astype(np.float32)
    scales[3] = np.float32(table[20])
    encoder_indexes = scale_indexes(scales, table.astype(np.float32))
    stream = range_coder.encode_with_indexes(y_symbols, encoder_indexes, *loaded.y_tables)
    # ...and the decoder's h_s (another BLAS, another GPU) answers 2 ulps higher
    decoder_scales = np.nextafter(np.nextafter(scales, np.float32(1e9)), np.float32(1e9))
    decoder_indexes = scale_indexes(decoder_scales, table.astype(np.float32))
    assert (decoder_indexes != encoder_indexes).sum() == 1
    garbage = range_coder.decode_with_indexes(stream, decoder_indexes, *loaded.y_tables)
    assert not np.array_equal(garbage, y_symbols)
    assert np.array_equal(garbage[:3], y_symbols[:3])  # right up to the flipped table

    # The codec never runs a float h_s: perturb every float h_s weight and output by a few
    # ulps and the decoded pixels do not change.
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = codec.encode(image)
    before = fromscratch.decompress(data)
    for p in loaded.model.h_s.parameters():
        p.data[...] = np.nextafter(p.data, np.float32(np.inf))
    original = loaded.model.h_s.forward
    loaded.model.h_s.forward = lambda z: np.nextafter(original(z), np.float32(np.inf))
    try:
        assert np.array_equal(fromscratch.decompress(data), before)
        assert codec.encode(image) == data
    finally:
        del loaded.model.h_s.forward
        balle2018.load_model.cache_clear()


def test_bad_streams_raise_bitstream_error(codec):
    image = np.random.default_rng(6).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    data = codec.encode(image)
    for bad in (data[: len(data) // 2], data[:10], b""):
        with pytest.raises(fromscratch.BitstreamError):
            codec.decode(bad)
    payload = codec.encode_payload(image)
    for bad in (payload[:3], b"\xff\xff\xff\xff" + payload[4:], payload[:6]):
        with pytest.raises(fromscratch.BitstreamError):
            codec.decode_payload(bad, image.shape)
    with pytest.raises(fromscratch.BitstreamError, match="at most"):
        codec.decode_payload(payload, (20000, 20000, 3))
    rng = np.random.default_rng(7)
    for _ in range(60):  # fuzz: flipped bytes decode to some image or raise, never crash
        mutated = bytearray(payload)
        for i in rng.integers(0, len(mutated), rng.integers(1, 4)):
            mutated[i] = rng.integers(0, 256)
        with contextlib.suppress(fromscratch.BitstreamError):
            out = codec.decode_payload(bytes(mutated), image.shape)
            assert out.shape == image.shape
    for _ in range(20):
        junk = rng.integers(0, 256, rng.integers(0, 200), dtype=np.uint8).tobytes()
        with contextlib.suppress(fromscratch.BitstreamError):
            codec.decode_payload(junk, image.shape)


def test_missing_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(balle2018, "WEIGHTS_DIR", tmp_path)
    balle2018.load_model.cache_clear()
    with pytest.raises(nn.WeightsError, match=r"balle2018_q7\.npz"):
        get_codec("balle2018", quality=7).encode(np.zeros((16, 16, 3), np.uint8))
    nn.save_weights(tmp_path / "balle2018_q2.npz", {}, {"kind": "balle2017"})
    with pytest.raises(nn.WeightsError, match=r"not a balle2018"):
        get_codec("balle2018", quality=2).encode(np.zeros((16, 16, 3), np.uint8))
    balle2018.load_model.cache_clear()


def test_nan_stops_training_with_a_message(monkeypatch):
    original = RateDistortionLoss.forward

    def poisoned(self, x_hat, likelihoods, x):
        return {**original(self, x_hat, likelihoods, x), "loss": float("nan")}

    monkeypatch.setattr(RateDistortionLoss, "forward", poisoned)
    with pytest.raises(FloatingPointError, match="step 0"):
        training.main(["--lmbda", "0.01", "--steps", "2", *TINY])


def test_decoder_rounding_and_frozen_transforms_options(tiny_weights, tmp_path):
    out = tmp_path / "tuned.npz"
    start = tiny_weights / "balle2018_q1.npz"
    for option in ("--decoder-rounding", "--freeze-transforms"):
        assert training.main(["--lmbda", "0.01", "--steps", "2", "--init-from", str(start),
                              option, "--export", str(out), *TINY]) == 0
        commands = nn.load_weights(out).hyperparams["commands"]
        assert option in commands[-1] and len(commands) == 3
