"""Integer networks: NumPy equals a pure-Python twin exactly, tracks the float net, bounded."""

import numpy as np
import pytest

from fromscratch.nn import Conv2d, ConvTranspose2d, ReLU, Sequential
from fromscratch.nn.integer import IntegerNetwork, integer_network_reference


def _float_net(seed=0, n=3, m=4):
    rng = np.random.default_rng(seed)
    return Sequential(
        ConvTranspose2d(n, n, 5, stride=2, padding=2, output_padding=1, rng=rng, xp=np),
        ReLU(),
        ConvTranspose2d(n, n, 5, stride=2, padding=2, output_padding=1, rng=rng, xp=np),
        ReLU(),
        Conv2d(n, m, 3, stride=1, padding=1, rng=rng, xp=np),
        ReLU(),
    )


def _with_biases(net, seed=1):
    rng = np.random.default_rng(seed)
    for p in net.parameters():
        if p.data.ndim == 1:
            p.data[...] = rng.normal(0, 0.3, p.shape)
    return net


def test_numpy_equals_the_pure_python_twin_exactly():
    net = IntegerNetwork.from_float(_with_biases(_float_net()), activation_bits=12,
                                    weight_bits=14)
    x = np.random.default_rng(2).integers(-3 << 12, 3 << 12, (1, 3, 2, 3))
    ours = net.forward(x)
    assert ours.dtype == np.int64 and ours.shape == (1, 4, 8, 12)
    assert ours.tolist()[0] == integer_network_reference(net, x[0].tolist())


def test_integer_network_tracks_the_float_network():
    float_net = _with_biases(_float_net(seed=3), seed=4).eval()
    net = IntegerNetwork.from_float(float_net)
    z = np.random.default_rng(5).integers(-4, 5, (1, 3, 3, 3)).astype(np.float32)
    expected = float_net.forward(z)
    got = net.forward(np.rint(z * 2**12).astype(np.int64)) / 2**12
    assert np.abs(got - expected).max() < 2e-3 * max(1.0, np.abs(expected).max())


def test_arrays_round_trip_and_bounds_are_enforced():
    net = IntegerNetwork.from_float(_float_net())
    arrays = net.arrays("h/")
    again = IntegerNetwork.from_arrays(arrays, "h/")
    x = np.random.default_rng(6).integers(-5000, 5000, (1, 3, 2, 2))
    assert np.array_equal(again.forward(x), net.forward(x))
    big = dict(arrays)
    big["h/0/weight"] = arrays["h/0/weight"] * 2**12
    with pytest.raises(ValueError, match="2\\^16"):
        IntegerNetwork.from_arrays(big, "h/")
    with pytest.raises(ValueError, match=r"no layers|bits"):
        IntegerNetwork.from_arrays({}, "h/")
    # inputs far beyond the limit are clipped, never overflow
    huge = np.full((1, 3, 2, 2), 2**62, np.int64)
    assert (net.forward(huge) >= 0).all()


def test_float64_sums_stay_exact_at_the_bounds():
    """Largest weights, activations and sums: the float64 products still give exact integers."""
    from fromscratch.nn.integer import ACTIVATION_LIMIT, MAX_TERMS, WEIGHT_LIMIT

    rng = np.random.default_rng(7)
    weight = rng.choice([WEIGHT_LIMIT - 1, -(WEIGHT_LIMIT - 1), WEIGHT_LIMIT - 3], (2, 64, 5, 5))
    layer = {"kind": "conv", "weight": weight.astype(np.int64),
             "bias": np.array([2**40 - 1, -(2**40 - 1)], np.int64), "stride": (1, 1),
             "padding": (2, 2), "output_padding": (0, 0), "relu": False}
    net = IntegerNetwork([layer], activation_bits=12, weight_bits=14)
    x = rng.choice([ACTIVATION_LIMIT, ACTIVATION_LIMIT - 1, -ACTIVATION_LIMIT], (1, 64, 3, 3))
    assert net.forward(x).tolist()[0] == integer_network_reference(net, x[0].tolist())
    # the most terms a sum may have, each at its largest: half the channels add, half subtract,
    # so a partial sum can reach 2^51 (the order is BLAS's) while the total cancels to the bias;
    # with no shift (weight_bits 0) the output shows the last bit of that sum
    channels = MAX_TERMS // 25
    weight = np.zeros((2, channels, 5, 5), np.int64)
    half = channels // 2
    weight[:, :half] = WEIGHT_LIMIT - 1
    weight[:, half:2 * half] = -(WEIGHT_LIMIT - 1)
    layer = dict(layer, weight=weight, bias=np.array([12345, 0], np.int64))
    net = IntegerNetwork([layer], activation_bits=12, weight_bits=0)
    x = np.full((1, channels, 5, 5), ACTIVATION_LIMIT, np.int64)
    out = net.forward(x).tolist()[0]
    assert half * 25 * (WEIGHT_LIMIT - 1) * ACTIVATION_LIMIT > 2**50
    assert out[0][2][2] == 12345 and out[1][2][2] == 0
    assert out == integer_network_reference(net, x[0].tolist())
    too_many = dict(layer, weight=np.ones((2, channels + 2, 5, 5), np.int64))
    with pytest.raises(ValueError, match="terms"):
        IntegerNetwork([too_many], activation_bits=12, weight_bits=14)
