"""Chapter 4's codec: gradients of the whole model, the training script, real bytes, bad input."""

import contextlib

import numpy as np
import pytest

import fromscratch
from fromscratch import nn
from fromscratch.codecs import get_codec
from fromscratch.codecs.balle2017 import codec as balle2017
from fromscratch.codecs.balle2017.model import Balle2017, RateDistortionLoss
from fromscratch.nn.entropy_bottleneck import EntropyBottleneck
from fromscratch.training import balle2017 as training


def test_whole_model_gradients_match_finite_differences():
    model = Balle2017(3, 4, rng=0, dtype="float64", xp=np)
    x = np.random.default_rng(1).uniform(0, 1, (1, 3, 16, 32))
    loss = RateDistortionLoss(0.05)

    def total(_):
        model.entropy_bottleneck.rng = np.random.default_rng(5)  # the same noise every call
        return loss.forward(*model.forward(x), x)["loss"]

    total(None)
    model.zero_grad()
    model.backward(*loss.backward())
    checked = 0
    for name, p in model.named_parameters():
        if p.data.size > 30:  # the 5x5 kernels: check a slice of them
            continue
        numeric = nn.numerical_gradient(total, p.data, eps=1e-6)
        scale = max(np.abs(p.grad).max(), 1e-3)
        assert np.abs(numeric - p.grad).max() / scale < 1e-4, name
        checked += 1
    assert checked >= 10


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A tiny model trained for a few steps by the real script, exported as quality 1."""
    folder = tmp_path_factory.mktemp("weights")
    path = folder / "balle2017_q1.npz"
    argv = ["--lmbda", "0.01", "--n", "4", "--m", "6", "--steps", "3", "--crop", "32",
            "--batch", "2", "--checkpoint", str(folder / "ck.npz"), "--export", str(path),
            "--quiet"]
    assert training.main(argv) == 0
    return folder


@pytest.fixture
def codec(tiny_weights, monkeypatch):
    monkeypatch.setattr(balle2017, "WEIGHTS_DIR", tiny_weights)
    balle2017.load_model.cache_clear()
    yield get_codec("balle2017", quality=1)
    balle2017.load_model.cache_clear()


def test_export_records_command_and_tables(tiny_weights):
    weights = nn.load_weights(tiny_weights / "balle2017_q1.npz")
    assert weights.hyperparams["command"].startswith("python -m fromscratch train balle2017")
    assert weights.extra["cdfs"].shape[0] == 6 and weights.extra["medians"].shape == (6,)


def test_training_resumes_from_its_checkpoint(tiny_weights):
    stats = training.main(["--lmbda", "0.01", "--n", "4", "--m", "6", "--steps", "4", "--crop",
                           "32", "--batch", "2", "--checkpoint",
                           str(tiny_weights / "ck.npz"), "--quiet"])
    assert stats == 0
    hyper = nn.load_weights(tiny_weights / "ck.npz").hyperparams
    assert hyper["step"] == 4
    # the chain of commands, each with the step it reached, so a stopped run can be redone
    assert [c.split("  # ")[1] for c in hyper["commands"]] == ["reached step 3", "reached step 4"]
    assert all(c.startswith("python -m fromscratch train balle2017 --lmbda 0.01")
               for c in hyper["commands"])


def test_a_resume_that_trains_nothing_records_nothing(tiny_weights, capsys):
    """Rerunning a finished command (a stale checkpoint) must not add a step-less entry, nor
    record a step the run never reached."""
    argv = ["--lmbda", "0.01", "--n", "4", "--m", "6", "--crop", "32", "--batch", "2",
            "--checkpoint", str(tiny_weights / "ck2.npz"), "--quiet"]
    assert training.main([*argv, "--steps", "3"]) == 0
    before = nn.load_weights(tiny_weights / "ck2.npz").hyperparams["commands"]
    assert training.main([*argv, "--steps", "2"]) == 0
    assert "already at step 3 >= --steps 2: nothing to train" in capsys.readouterr().err
    after = nn.load_weights(tiny_weights / "ck2.npz").hyperparams
    assert after["commands"] == before and after["step"] == 3
    assert training.main([*argv, "--steps", "3", "--export", str(tiny_weights / "e.npz")]) == 0
    exported = nn.load_weights(tiny_weights / "e.npz").hyperparams
    assert exported["commands"] == before and "--export" not in exported["command"]
    assert exported["command"] == before[-1].split("  # ")[0]


def test_decoder_rounding_fine_tune(tiny_weights, tmp_path, monkeypatch):
    seen = []
    forward = EntropyBottleneck.forward

    def spy(self, y):
        seen.append(self.decoder_rounding)
        return forward(self, y)

    monkeypatch.setattr(EntropyBottleneck, "forward", spy)
    out, start = tmp_path / "tuned.npz", tiny_weights / "balle2017_q1.npz"
    assert training.main(["--lmbda", "0.01", "--n", "4", "--m", "6", "--steps", "2", "--crop",
                          "32", "--batch", "2", "--init-from", str(start),
                          "--decoder-rounding", "--export", str(out), "--quiet"]) == 0
    assert seen[:2] == [True, True]
    commands = nn.load_weights(out).hyperparams["commands"]
    assert "--decoder-rounding" in commands[-1] and len(commands) == 2


@pytest.mark.parametrize("shape", [(1, 1, 3), (17, 33, 3), (40, 23), (16, 16, 3)])
def test_round_trip_any_size(codec, shape):
    image = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    data = codec.encode(image)
    out = fromscratch.decompress(data)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert fromscratch.decompress(data + b"junk").tobytes() == out.tobytes()
    assert codec.encode(image) == data  # deterministic bytes


def test_stream_size_is_close_to_the_estimate(codec):
    image = np.random.default_rng(3).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    loaded = codec.model()
    symbols = loaded.symbols(loaded.analysis(image))
    estimate = loaded.estimated_bits(symbols)
    payload_bits = 8 * len(codec.encode_payload(image))
    assert abs(payload_bits - estimate) <= 0.02 * estimate + 64


def test_bad_streams_raise_bitstream_error(codec):
    image = np.random.default_rng(4).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    data = codec.encode(image)
    for bad in (data[: len(data) // 2], data[:10], b""):
        with pytest.raises(fromscratch.BitstreamError):
            codec.decode(bad)
    payload = codec.encode_payload(image)
    for bad in (payload[:3], b"\xff" * 40):
        # a junk payload may also decode to some image; it must not crash
        with contextlib.suppress(fromscratch.BitstreamError):
            codec.decode_payload(bad, image.shape)
    with pytest.raises(fromscratch.BitstreamError, match="at most"):
        codec.decode_payload(payload, (20000, 20000, 3))  # over the memory limit even for N=4


def test_missing_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(balle2017, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(nn.WeightsError, match=r"balle2017_q7\.npz"):
        get_codec("balle2017", quality=7).encode(np.zeros((16, 16, 3), np.uint8))
    (tmp_path / "balle2017_q2.npz").write_bytes(b"not an npz")
    balle2017.load_model.cache_clear()
    with pytest.raises(nn.WeightsError, match=r"balle2017_q2\.npz"):
        get_codec("balle2017", quality=2).encode(np.zeros((16, 16, 3), np.uint8))


def test_nan_stops_training_with_a_message(monkeypatch, tmp_path):
    original = RateDistortionLoss.forward

    def poisoned(self, x_hat, likelihoods, x):
        stats = original(self, x_hat, likelihoods, x)
        return {**stats, "loss": float("nan")}

    monkeypatch.setattr(RateDistortionLoss, "forward", poisoned)
    with pytest.raises(FloatingPointError, match="step 0"):
        training.main(["--lmbda", "0.01", "--n", "4", "--m", "6", "--steps", "2", "--crop",
                       "32", "--batch", "1", "--quiet"])
