"""``balle2017`` on large images: same bytes and pixels as the whole-image path, memory estimated
before allocating, refusal with a clear error, and the estimate bounding a real process's peak."""

import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import fromscratch
from fromscratch import container, data
from fromscratch.codecs import get_codec
from fromscratch.codecs.balle2017 import codec as balle2017


@pytest.fixture(scope="module")
def loaded():
    return get_codec("balle2017", quality=2).model()


def _whole_image_path(loaded, image):
    """The codec's transforms as they ran before inference had its own path: training mode
    (whole-image im2col, GDN with its caches), same rounding and clipping."""
    model = loaded.model
    height, width = image.shape[:2]
    pad = ((0, -height % balle2017.STRIDE), (0, -width % balle2017.STRIDE), (0, 0))
    x = np.pad(image, pad, mode="edge").transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    model.train()
    try:
        symbols = loaded.symbols(model.g_a.forward(x)[0])
        y_hat = (symbols + loaded.medians[:, None, None]).astype(np.float32)
        x_hat = model.g_s.forward(y_hat[None])[0]
    finally:
        model.eval()
    pixels = np.clip(np.rint(x_hat[:, :height, :width] * 255.0), 0, 255)
    return symbols, pixels.astype(np.uint8).transpose(1, 2, 0)


def test_bytes_identical_and_pixels_equal_to_float_rounding(loaded):
    image = data.sample_image()[1][:200, :300]
    symbols, pixels = _whole_image_path(loaded, image)
    np.testing.assert_array_equal(loaded.symbols(loaded.analysis(image)), symbols)
    decoded = fromscratch.decompress(get_codec("balle2017", quality=2).encode(image))
    # the banded synthesis adds the same terms in another order: a pixel whose value lies within
    # float rounding of a half may round the other way, by one level
    diff = np.abs(decoded.astype(int) - pixels)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_the_estimate_decides_what_is_coded(loaded, monkeypatch):
    assert loaded.peak_bytes(3000, 4000) <= 2e9            # a 12-megapixel phone photo
    loaded.check_memory(4096, 4096)                        # the old pixel cap still codes
    with pytest.raises(ValueError, match="needs about"):
        loaded.check_memory(6000, 8000)
    assert loaded.peak_bytes(100, 100) < loaded.peak_bytes(1000, 1000)
    codec = get_codec("balle2017", quality=2)
    monkeypatch.setattr(balle2017, "MEMORY_LIMIT", loaded.peak_bytes(64, 64))
    codec.encode(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="MEMORY_LIMIT"):
        codec.encode(np.zeros((64, 80, 3), np.uint8))


def test_a_header_claiming_too_many_pixels_is_refused_before_allocating(loaded):
    stream = container.pack("balle2017", (9000, 9000, 3), {"quality": 2}, b"\x00" * 64)
    tracemalloc.start()
    with pytest.raises(fromscratch.BitstreamError, match="needs about"):
        fromscratch.decompress(stream)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10**6


CHILD = """
import json, sys
import numpy as np
from fromscratch.codecs import get_codec
codec = get_codec("balle2017", quality=2)
image = np.random.default_rng(0).integers(0, 256, (768, 1024, 3), dtype=np.uint8)
image = np.cumsum(image, axis=1, dtype=np.uint16).astype(np.uint8)  # some structure
decoded = codec.decode(codec.encode(image))
assert decoded.shape == image.shape
# VmHWM, not ru_maxrss: a vfork-ed child inherits its parent's ru_maxrss (here pytest's)
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
print(json.dumps({"peak": peak, "estimate": codec.model().peak_bytes(768, 1024)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_fresh_process_stays_under_the_estimate():
    """Encode and decode a 0.8-megapixel image in a child: its peak resident memory (the
    interpreter and libraries included) stays under the codec's own estimate. A first, identical
    child fills Numba's disk cache, as any earlier use would (compiling takes memory of its own,
    which the estimate does not cover)."""
    subprocess.run([sys.executable, "-c", CHILD], capture_output=True, check=True, timeout=300)
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          check=True, timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["peak"] <= result["estimate"], result
