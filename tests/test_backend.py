"""The NumPy/CuPy switch. CuPy tests run only where a GPU and CuPy are present."""

import importlib.util

import numpy as np
import pytest

import fromscratch
from fromscratch import backend, metrics

try:
    backend._import_cupy()
    HAVE_GPU = True
except backend.BackendError:
    HAVE_GPU = False
needs_gpu = pytest.mark.skipif(not HAVE_GPU, reason="CuPy with a CUDA device is not available")


@pytest.fixture(autouse=True)
def restore_backend():
    before = backend.current_backend()
    yield
    backend.use(before)


def test_numpy_is_the_default_and_always_available():
    assert backend.use("numpy") is np
    assert backend.get_xp() is np
    assert backend.available_backends()[0] == "numpy"
    assert backend.array_module(np.zeros(3), 1.0) is np
    a = np.arange(4)
    assert backend.to_numpy(a) is a
    assert isinstance(backend.to_numpy([1, 2]), np.ndarray)


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backend"):
        backend.use("tensorflow")


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
def test_missing_cupy_is_a_clear_error_and_keeps_numpy():
    with pytest.raises(backend.BackendError, match=r"pip install"):
        backend.use("cupy")
    assert backend.current_backend() == "numpy"
    assert backend.available_backends() == ["numpy"]


def test_seeded_generators_repeat():
    a = backend.make_rng(5).standard_normal(4)
    b = backend.make_rng(5).standard_normal(4)
    np.testing.assert_array_equal(a, b)
    generator = np.random.default_rng(0)
    assert backend.make_rng(generator) is generator


@needs_gpu
def test_cupy_backend_round_trip():
    import cupy

    xp = backend.use("cupy")
    assert xp is cupy and backend.get_xp() is cupy
    rng = backend.make_rng(0)
    host = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    device = xp.asarray(host)
    assert backend.array_module(device) is cupy
    np.testing.assert_array_equal(backend.to_numpy(device), host)
    # The same seed gives the same numbers on both backends (drawn on the CPU, then moved).
    np.testing.assert_array_equal(
        backend.to_numpy(xp.asarray(backend.make_rng(1).standard_normal(8))),
        backend.make_rng(1).standard_normal(8),
    )
    # The API takes device arrays and gives NumPy arrays back.
    data = fromscratch.compress(device, codec="raw")
    np.testing.assert_array_equal(fromscratch.decompress(data), host)
    noisy = xp.clip(device.astype(xp.int16) + 3, 0, 255).astype(xp.uint8)
    assert metrics.psnr(device, noisy) == pytest.approx(metrics.psnr(host, backend.to_numpy(noisy)))
