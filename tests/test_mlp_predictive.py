"""Tests for the ``mlp-predictive`` codec: lossless, kernel == twin, deterministic, robust."""

from __future__ import annotations

import numpy as np
import pytest

import fromscratch
from fromscratch import nn
from fromscratch.bitstream import BitstreamError
from fromscratch.codecs import get_codec
from fromscratch.codecs.mlp_predictive import _kernels as kernels
from fromscratch.codecs.mlp_predictive import nets as nets_module
from fromscratch.codecs.mlp_predictive import reference
from fromscratch.codecs.mlp_predictive.codec import (
    INCREMENT,
    LIMIT,
    MlpPredictive,
    decode_stream,
    encode_stream,
    predictions,
)
from fromscratch.codecs.mlp_predictive.nets import (
    PredictorNet,
    feature_matrix,
    fit_least_squares,
    fit_output_layers,
    load_nets,
)
from fromscratch.data import BUNDLED_DIR, load_image
from fromscratch.transforms import dpcm

PREDICTORS = [{"predictor": "mlp"}, {"predictor": "mlp", "adapt": False}, {"predictor": "ls"},
              {"predictor": "med"}, {"predictor": "left"}]
_rng = np.random.default_rng(11)


def random_nets(hidden=(6, 4), seed=0, channels=3) -> list[PredictorNet]:
    """Small random nets of the codec's shapes (weights scaled to give predictions of a few grey
    levels, so the rounding and clipping paths are all exercised)."""
    rng = np.random.default_rng(seed)
    nets = []
    for k in range(channels):
        n_in = kernels.n_features(k)
        widths = [n_in, *hidden]
        weights = [rng.normal(0, 1, (widths[i + 1], widths[i])).astype(np.float32)
                   for i in range(len(hidden))]
        weights.append(rng.normal(0, 0.5, (1, widths[-1] + (n_in if hidden else 0)))
                       .astype(np.float32))
        biases = [rng.normal(0, 0.1, w.shape[0]).astype(np.float32) for w in weights]
        nets.append(PredictorNet(tuple(weights), tuple(biases), 0.01))
    return nets


def sample(name: str) -> np.ndarray:
    return load_image(BUNDLED_DIR / "samples" / name)


IMAGES = {
    "1x1": _rng.integers(0, 256, (1, 1, 3), dtype=np.uint8),
    "1xN": _rng.integers(0, 256, (1, 17, 3), dtype=np.uint8),
    "Nx1": _rng.integers(0, 256, (13, 1, 3), dtype=np.uint8),
    "2x2": _rng.integers(0, 256, (2, 2, 3), dtype=np.uint8),
    "gray": _rng.integers(0, 256, (9, 14), dtype=np.uint8),
    "gray1x1": np.array([[200]], np.uint8),
    "constant": np.full((12, 10, 3), 77, np.uint8),
    "black": np.zeros((8, 8), np.uint8),
    "white": np.full((5, 9, 3), 255, np.uint8),
    "noise": _rng.integers(0, 256, (23, 31, 3), dtype=np.uint8),
    "ramp": np.broadcast_to(np.arange(40, dtype=np.uint8)[None, :, None] * 6, (6, 40, 3)).copy(),
    "photo_crop": sample("kodim23-half.png")[60:124, 100:180],
}


@pytest.fixture(scope="module")
def shipped():
    return load_nets("mlp_predictive")


# --- lossless round trips -----------------------------------------------------------------


@pytest.mark.parametrize("params", PREDICTORS, ids=lambda p: "-".join(map(str, p.values())))
@pytest.mark.parametrize("name", sorted(IMAGES))
def test_round_trip_is_exact(name, params):
    image = IMAGES[name]
    data = fromscratch.compress(image, codec="mlp-predictive", **params)
    out = fromscratch.decompress(data)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("params", PREDICTORS, ids=lambda p: "-".join(map(str, p.values())))
def test_round_trip_on_a_bundled_photograph(params):
    image = sample("kodim13-half.png")[:160]
    codec = get_codec("mlp-predictive", **params)
    data = codec.encode(image)
    np.testing.assert_array_equal(codec.decode(data), image)
    assert codec.encode(image) == data  # deterministic bytes
    assert 8 * len(data) / image[:, :, 0].size < 20  # below the 24 raw bits (a busy image)


def test_mlp_beats_med_and_png_on_a_sample_image():
    image = sample("kodim23-half.png")
    sizes = {p: len(get_codec("mlp-predictive", predictor=p).encode(image))
             for p in ("mlp", "ls", "med")}
    png = len(get_codec("pillow-png").encode(image))
    assert sizes["mlp"] < sizes["ls"] < sizes["med"] < png
    assert sizes["mlp"] < 0.9 * sizes["med"]


def test_other_image_layouts_are_accepted():
    image = IMAGES["noise"][:, :, :1]  # (H, W, 1) is squeezed to gray by the codecs
    data = fromscratch.compress(image, codec="mlp-predictive", predictor="ls")
    np.testing.assert_array_equal(fromscratch.decompress(data), image[:, :, 0])
    fortran = np.asfortranarray(IMAGES["noise"])
    np.testing.assert_array_equal(
        fromscratch.decompress(fromscratch.compress(fortran, codec="mlp-predictive")), fortran)


# --- the kernels against their twins -------------------------------------------------------


@pytest.mark.parametrize("shape", [(7, 9, 3), (1, 6, 3), (5, 1, 3), (6, 5), (1, 1)])
@pytest.mark.parametrize("model", ["mlp", "mlp2", "ls", "med", "left"])
def test_kernel_equals_twin(shape, model, shipped):
    rng = np.random.default_rng(shape[0] * 10 + shape[1])
    ramp = np.linspace(0, 250, shape[1]).reshape((1, shape[1]) + (1,) * (len(shape) - 2))
    image = np.clip(ramp + rng.normal(0, 12, shape), 0, 255).astype(np.uint8)  # edges, noise
    mode, nets = {
        "mlp": ("net", shipped),
        "mlp2": ("net", random_nets((6, 4))),  # two hidden layers: the other ping-pong buffer
        "ls": ("net", fit_least_squares(image)),
        "med": ("med", None),
        "left": ("left", None),
    }[model]
    img3 = image.reshape((*shape[:2], -1))
    data = encode_stream(image, mode, nets)
    assert reference.encode(img3, mode, nets, INCREMENT, LIMIT) == data
    np.testing.assert_array_equal(reference.decode(data, img3.shape, mode, nets, INCREMENT, LIMIT),
                                  img3)
    np.testing.assert_array_equal(decode_stream(data, shape, mode, nets), image)


def test_twin_predictions_equal_kernel_predictions(shipped):
    image = IMAGES["photo_crop"][:12, :15]
    for mode, nets in (("net", shipped), ("net", random_nets((5,), seed=3)), ("med", None)):
        kernel = predictions(image, "mlp" if mode == "net" else mode, nets)
        twin = np.array([[[reference.predict(image, i, j, k, mode, nets) for k in range(3)]
                          for j in range(15)] for i in range(12)])
        np.testing.assert_array_equal(kernel, twin)


def test_med_predictions_match_dpcm_inside_the_image():
    image = IMAGES["photo_crop"]
    ours = predictions(image, "med")
    np.testing.assert_array_equal(ours[1:, 1:], dpcm.predict(image, "med")[1:, 1:])


@pytest.mark.parametrize("shape", [(9, 11, 3), (1, 5, 3), (6, 1, 3), (1, 1, 3), (4, 2, 3)])
def test_vectorised_features_equal_kernel_features(shape):
    image = np.random.default_rng(shape[0]).integers(0, 256, shape, np.uint8)
    for k in range(3):
        features, bases = feature_matrix(image, k)
        out = np.zeros_like(features)
        np.testing.assert_array_equal(kernels.features_kernel(image, k, out), bases)
        np.testing.assert_array_equal(out, features)
        twin = [reference.features(image, i, j, k) for i in range(shape[0])
                for j in range(shape[1])]
        np.testing.assert_array_equal(np.array([t[0] for t in twin], np.float32), features)


def test_adapted_output_layer_fits_better_than_the_shipped_one(shipped):
    image = sample("kodim13-half.png")[:128, :128]
    adapted = fit_output_layers(image, shipped)
    assert [n.weights[0].shape for n in adapted] == [n.weights[0].shape for n in shipped]
    errors = {}
    for name, nets in (("shipped", shipped), ("adapted", adapted)):
        pred = predictions(image, "mlp", nets)
        errors[name] = np.abs(image.astype(int) - pred).mean()
    assert errors["adapted"] < errors["shipped"]


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("params", PREDICTORS, ids=lambda p: "-".join(map(str, p.values())))
def test_truncated_payloads_raise(params):
    image = IMAGES["photo_crop"]
    codec = MlpPredictive(**params)
    payload = codec.encode_payload(image)
    for cut in sorted({0, 1, 3, 5, 20, len(payload) // 2, len(payload) - 10}):
        with pytest.raises(BitstreamError):
            codec.decode_payload(payload[:cut], image.shape)


@pytest.mark.parametrize("params", PREDICTORS, ids=lambda p: "-".join(map(str, p.values())))
def test_junk_payloads_raise_or_decode_to_the_right_shape(params):
    codec = MlpPredictive(**params)
    for seed in range(12):
        junk = np.random.default_rng(seed).integers(0, 256, 400, dtype=np.uint8).tobytes()
        for shape in ((10, 12, 3), (7, 5)):
            try:
                out = codec.decode_payload(junk, shape)
            except BitstreamError:
                continue
            assert out.shape == shape and out.dtype == np.uint8


def test_lying_shapes_are_refused_before_allocating():
    payload = MlpPredictive(predictor="med").encode_payload(IMAGES["noise"])
    with pytest.raises(BitstreamError, match="cannot hold"):
        MlpPredictive(predictor="med").decode_payload(payload, (9000, 9000, 3))


def test_non_finite_ls_coefficients_raise():
    codec = MlpPredictive(predictor="ls")
    payload = bytearray(codec.encode_payload(IMAGES["noise"]))
    payload[0:4] = np.float32(np.nan).tobytes()
    with pytest.raises(BitstreamError, match="not finite"):
        codec.decode_payload(bytes(payload), IMAGES["noise"].shape)


def test_huge_but_finite_coefficients_still_decode_consistently():
    image = IMAGES["noise"][:6, :7]
    nets = [PredictorNet((np.full((1, kernels.n_features(k)), 3e38, np.float32),),
                         (np.array([-3e38], np.float32),), 0.0) for k in range(3)]
    data = encode_stream(image, "net", nets)  # inf - inf = NaN predictions: clipped to 0
    np.testing.assert_array_equal(decode_stream(data, image.shape, "net", nets), image)
    with np.errstate(over="ignore", invalid="ignore"):  # the twin's NumPy scalars would warn
        assert reference.encode(image, "net", nets, INCREMENT, LIMIT) == data


def test_stream_from_other_weights_is_refused(shipped):
    image = IMAGES["photo_crop"]
    payload = bytearray(MlpPredictive(predictor="mlp").encode_payload(image))
    payload[0] ^= 0xFF  # the CRC of the weights
    with pytest.raises(BitstreamError, match="other weights"):
        MlpPredictive(predictor="mlp").decode_payload(bytes(payload), image.shape)


# --- weights ---------------------------------------------------------------------------------


def test_missing_weights_file_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(nets_module, "WEIGHTS_DIR", tmp_path)
    image = IMAGES["noise"]
    with pytest.raises(nn.WeightsError, match=r"mlp_predictive\.npz"):
        get_codec("mlp-predictive").encode(image)
    for predictor in ("ls", "med", "left"):  # the other predictors need no file
        codec = get_codec("mlp-predictive", predictor=predictor)
        np.testing.assert_array_equal(codec.decode(codec.encode(image)), image)


def _write_weights(path, nets, layout=nets_module.FEATURE_LAYOUT, drop=None):
    from fromscratch.training.mlp_predictive import codec_state

    state = codec_state(nets)
    if drop:
        del state[drop]
    nn.save_weights(path, state, {"feature_layout": layout, "negative_slope": 0.01})


def test_weights_of_wrong_shapes_or_layout_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(nets_module, "WEIGHTS_DIR", tmp_path)
    good = random_nets((4,))
    bad = [good[1], good[1], good[2]]  # channel 0 gets channel 1's 9-input net
    _write_weights(tmp_path / "bad.npz", bad)
    with pytest.raises(nn.WeightsError, match=r"bad\.npz.*channel 0 layer 0"):
        load_nets("bad")
    _write_weights(tmp_path / "old.npz", good, layout="v0")
    with pytest.raises(nn.WeightsError, match="feature layout"):
        load_nets("old")
    _write_weights(tmp_path / "nobias.npz", good, drop="channel2.layer1.bias")
    with pytest.raises(nn.WeightsError, match=r"channel2\.layer1\.bias"):
        load_nets("nobias")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(nn.WeightsError, match="junk"):
        get_codec("mlp-predictive", weights="junk").encode(IMAGES["noise"])
    _write_weights(tmp_path / "good.npz", good)  # and a good file works, under its own name
    codec = get_codec("mlp-predictive", weights="good")
    data = codec.encode(IMAGES["noise"])
    np.testing.assert_array_equal(fromscratch.decompress(data), IMAGES["noise"])


def test_weights_parameter_must_be_a_plain_stem():
    for bad in ("../secret", "a/b", "", "x" * 65):
        with pytest.raises(ValueError, match="stem"):
            get_codec("mlp-predictive", weights=bad)


def test_shipped_weights_record_their_command():
    weights = nn.load_weights(nets_module.weights_path("mlp_predictive"))
    assert weights.hyperparams["command"].startswith("python -m fromscratch train mlp-predictive")
    assert weights.hyperparams["feature_layout"] == nets_module.FEATURE_LAYOUT
