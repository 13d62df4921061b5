"""Convolutions: im2col/col2im kernels against their twins, gradients against finite differences,
and forward and backward against torch (the gold standard, test-only)."""

import numpy as np
import pytest

from fromscratch import nn
from fromscratch.backend import available_backends
from fromscratch.nn import conv as conv_module
from fromscratch.nn._conv_kernels import (
    col2im,
    col2im_reference,
    conv_output_size,
    im2col,
    im2col_reference,
)
from fromscratch.nn.conv import (
    Conv2d,
    ConvTranspose2d,
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
)


def random_geometry(rng):
    """A random (image shape, kernel, stride, padding, out size) with at least one output."""
    while True:
        kernel = tuple(int(k) for k in rng.integers(1, 6, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = tuple(int(p) for p in rng.integers(0, 4, 2))
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                 int(rng.integers(1, 12)), int(rng.integers(1, 12)))
        out = (conv_output_size(shape[2], kernel[0], stride[0], padding[0]),
               conv_output_size(shape[3], kernel[1], stride[1], padding[1]))
        if min(out) >= 1:
            return shape, kernel, stride, padding, out


def random_band(rng, total_rows):
    """Rows ``(top, bottom)``, ``0 <= top < bottom <= total_rows``."""
    top = int(rng.integers(0, total_rows))
    return top, int(rng.integers(top + 1, total_rows + 1))


# --- kernels vs twins ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_kernel_equals_twin(dtype):
    rng = np.random.default_rng(1)
    for _ in range(150):
        shape, kernel, stride, padding, out = random_geometry(rng)
        x = rng.standard_normal(shape).astype(dtype)
        compiled = im2col(x, kernel, stride, padding, out)
        twin = im2col_reference(x, kernel, stride, padding, out)
        assert compiled.dtype == dtype
        np.testing.assert_array_equal(compiled, twin)
        # a band of output rows: those rows' columns of the whole batch, in the same order
        rows = random_band(rng, out[0])
        band = im2col(x, kernel, stride, padding, out, rows=rows)
        np.testing.assert_array_equal(band, im2col_reference(x, kernel, stride, padding, out, rows))
        whole = compiled.reshape(-1, shape[0], *out)[:, :, rows[0]:rows[1]]
        np.testing.assert_array_equal(band, whole.reshape(band.shape))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_col2im_kernel_equals_twin_and_is_the_adjoint(dtype):
    rng = np.random.default_rng(2)
    for _ in range(150):
        shape, kernel, stride, padding, out = random_geometry(rng)
        k = shape[1] * kernel[0] * kernel[1]
        cols = rng.standard_normal((k, shape[0] * out[0] * out[1])).astype(dtype)
        compiled = col2im(cols, shape, kernel, stride, padding, out)
        twin = col2im_reference(cols, shape, kernel, stride, padding, out)
        assert compiled.dtype == dtype and compiled.shape == shape
        # the same sums in another order: equal to rounding
        tol = 1e-5 if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(compiled, twin, rtol=tol, atol=tol)
        # <im2col(x), cols> == <x, col2im(cols)>: col2im is the transpose of im2col
        x = rng.standard_normal(shape)
        lhs = np.sum(im2col(x, kernel, stride, padding, out) * cols)
        assert np.isclose(lhs, np.sum(x * compiled), rtol=1e-4 if dtype == np.float32 else 1e-12)
        # a band of output rows, added onto images already there (add=True)
        rows = random_band(rng, out[0])
        band = cols[:, :shape[0] * (rows[1] - rows[0]) * out[1]]
        start = rng.standard_normal(shape).astype(dtype)
        added = col2im(band, shape, kernel, stride, padding, out, rows=rows, out=start.copy(),
                       add=True)
        twin = start + col2im_reference(band, shape, kernel, stride, padding, out, rows)
        np.testing.assert_allclose(added, twin, rtol=tol, atol=tol)
        lhs = np.sum(im2col(x, kernel, stride, padding, out, rows=rows) * band)
        assert np.isclose(lhs, np.sum(x * (added - start)),
                          rtol=1e-4 if dtype == np.float32 else 1e-12)


def test_row_bands_reject_bad_bands():
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(ValueError, match="band"):
        im2col(x, (3, 3), (1, 1), (0, 0), (3, 3), rows=(2, 4))
    with pytest.raises(ValueError, match="band"):
        im2col(x, (3, 3), (1, 1), (0, 0), (3, 3), rows=(1, 1))
    with pytest.raises(ValueError, match="columns have shape"):
        col2im(np.zeros((18, 4)), x.shape, (3, 3), (1, 1), (0, 0), (3, 3), rows=(0, 1))
    with pytest.raises(ValueError, match="add"):
        col2im(np.zeros((18, 3)), x.shape, (3, 3), (1, 1), (0, 0), (3, 3), rows=(0, 1),
               add=True)


def test_im2col_layout_is_documented_one():
    x = np.arange(2 * 2 * 4 * 5, dtype=np.float64).reshape(2, 2, 4, 5)
    cols = im2col(x, (3, 2), (2, 1), (1, 0), (2, 4))
    n, c, i, j, oh, ow = 1, 1, 2, 1, 1, 3
    value = x[n, c, oh * 2 + i - 1, ow * 1 + j - 0]
    assert cols[(c * 3 + i) * 2 + j, n * 8 + oh * 4 + ow] == value
    assert cols[0, 0] == 0  # tap (0, 0) at the first position looks into the padding


def test_kernel_wrappers_reject_inconsistent_geometry():
    x = np.zeros((1, 1, 5, 5))
    with pytest.raises(ValueError, match="output size"):
        im2col(x, (3, 3), (1, 1), (0, 0), (4, 3))
    with pytest.raises(ValueError, match="columns have shape"):
        col2im(np.zeros((9, 8)), x.shape, (3, 3), (1, 1), (0, 0), (3, 3))
    with pytest.raises(ValueError, match="stride"):
        im2col(x, (3, 3), (0, 1), (0, 0), (3, 3))


# --- gradient checks (float64, finite differences) -----------------------------------------------

CONV_CASES = [  # (N, C, F, H, W, kernel, stride, padding)
    (2, 2, 3, 6, 5, 3, 1, 1),
    (2, 3, 2, 7, 8, 5, 2, 2),
    (1, 2, 2, 6, 7, (3, 2), (2, 1), (0, 1)),
    (2, 1, 2, 5, 5, 2, 2, 0),
]

TRANSPOSED_CASES = [  # (N, C_in, C_out, H, W, kernel, stride, padding, output_padding)
    (2, 2, 3, 4, 3, 3, 1, 1, 0),
    (2, 3, 2, 3, 4, 5, 2, 2, 1),
    (1, 2, 2, 3, 3, (3, 2), (2, 3), (1, 0), (0, 2)),
    (2, 2, 1, 3, 2, 4, 2, 1, 0),
]


def _conv_pair(stride, padding):
    def forward(x, w, b):
        return conv2d_forward(x, w, b, stride, padding)[0]

    def backward(dout, inputs):
        return conv2d_backward(dout, conv2d_forward(*inputs, stride, padding)[1])

    return forward, backward


def _transposed_pair(stride, padding, output_padding):
    def forward(x, w, b):
        return conv_transpose2d_forward(x, w, b, stride, padding, output_padding)[0]

    def backward(dout, inputs):
        cache = conv_transpose2d_forward(*inputs, stride, padding, output_padding)[1]
        return conv_transpose2d_backward(dout, cache)

    return forward, backward


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_gradcheck(case):
    n, c, f, h, w, kernel, stride, padding = case
    rng = np.random.default_rng(3)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    inputs = [rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, kh, kw)),
              rng.standard_normal(f)]
    result = nn.gradcheck(_conv_pair(stride, padding), inputs)
    assert result.ok, str(result)


@pytest.mark.parametrize("case", TRANSPOSED_CASES)
def test_conv_transpose2d_gradcheck(case):
    n, c_in, c_out, h, w, kernel, stride, padding, output_padding = case
    rng = np.random.default_rng(4)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    inputs = [rng.standard_normal((n, c_in, h, w)), rng.standard_normal((c_in, c_out, kh, kw)),
              rng.standard_normal(c_out)]
    result = nn.gradcheck(_transposed_pair(stride, padding, output_padding), inputs)
    assert result.ok, str(result)


@pytest.mark.parametrize("bias", [True, False])
def test_modules_gradcheck(bias):
    rng = np.random.default_rng(5)
    conv = Conv2d(2, 3, 3, stride=2, padding=1, bias=bias, rng=0)
    result = nn.gradcheck(conv, [rng.standard_normal((2, 2, 7, 6))])
    assert result.ok, str(result)
    assert set(result.errors) == {"input0", "weight"} | ({"bias"} if bias else set())
    up = ConvTranspose2d(3, 2, 5, stride=2, padding=2, output_padding=1, bias=bias, rng=1)
    result = nn.gradcheck(up, [rng.standard_normal((2, 3, 3, 4))])
    assert result.ok, str(result)


# --- against torch -------------------------------------------------------------------------------


def _torch_conv(torch, transposed, x, w, b, stride, padding, output_padding, dout):
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    if transposed:
        out = torch.nn.functional.conv_transpose2d(tx, tw, tb, stride, padding, output_padding)
    else:
        out = torch.nn.functional.conv2d(tx, tw, tb, stride, padding)
    out.backward(torch.tensor(dout))
    grads = (tx.grad.numpy(), tw.grad.numpy(), None if tb is None else tb.grad.numpy())
    return out.detach().numpy(), grads


def _assert_close(ours, theirs, rtol):
    assert ours.dtype == theirs.dtype
    scale = max(np.abs(theirs).max(), 1e-30)
    assert np.abs(ours - theirs).max() <= rtol * scale


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("transposed", [False, True])
def test_against_torch_on_random_shapes(dtype, rtol, transposed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6 + transposed)
    for trial in range(25):
        n, c, f = (int(v) for v in rng.integers(1, 5, 3))
        kernel = tuple(int(k) for k in rng.integers(1, 6, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = tuple(int(p) for p in rng.integers(0, 3, 2))
        output_padding = tuple(int(rng.integers(0, s)) for s in stride) if transposed else 0
        h, w = (int(v) for v in rng.integers(1, 14, 2))
        bias = rng.standard_normal(f).astype(dtype) if trial % 3 else None
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        if transposed:
            weight = rng.standard_normal((c, f, *kernel)).astype(dtype)
            out_h = (h - 1) * stride[0] - 2 * padding[0] + kernel[0] + output_padding[0]
            out_w = (w - 1) * stride[1] - 2 * padding[1] + kernel[1] + output_padding[1]
        else:
            weight = rng.standard_normal((f, c, *kernel)).astype(dtype)
            out_h = conv_output_size(h, kernel[0], stride[0], padding[0])
            out_w = conv_output_size(w, kernel[1], stride[1], padding[1])
        if min(out_h, out_w) < 1:
            continue
        dout = rng.standard_normal((n, f, out_h, out_w)).astype(dtype)
        if transposed:
            out, cache = conv_transpose2d_forward(x, weight, bias, stride, padding,
                                                  output_padding)
            grads = conv_transpose2d_backward(dout, cache)
        else:
            out, cache = conv2d_forward(x, weight, bias, stride, padding)
            grads = conv2d_backward(dout, cache)
        t_out, t_grads = _torch_conv(torch, transposed, x, weight, bias, stride, padding,
                                     output_padding, dout)
        _assert_close(out, t_out, rtol)
        for ours, theirs in zip(grads, t_grads, strict=True):
            if theirs is None:
                assert ours is None
            else:
                _assert_close(ours, theirs, rtol)


def test_balle_shapes_against_torch_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    down = Conv2d(16, 24, 5, stride=2, padding=2, rng=0)
    up = ConvTranspose2d(24, 16, 5, stride=2, padding=2, output_padding=1, rng=1)
    x = rng.standard_normal((2, 16, 32, 32)).astype(np.float32)
    y = down(x)
    z = up(y)
    assert y.shape == (2, 24, 16, 16) and z.shape == x.shape
    assert y.dtype == z.dtype == np.float32
    g = rng.standard_normal(z.shape).astype(np.float32)
    dx = down.backward(up.backward(g))
    tx = torch.tensor(x, requires_grad=True)
    tdown = torch.nn.Conv2d(16, 24, 5, stride=2, padding=2)
    tup = torch.nn.ConvTranspose2d(24, 16, 5, stride=2, padding=2, output_padding=1)
    with torch.no_grad():
        for mine, theirs in ((down, tdown), (up, tup)):
            theirs.weight.copy_(torch.tensor(mine.weight.data))
            theirs.bias.copy_(torch.tensor(mine.bias.data))
    tz = tup(tdown(tx))
    tz.backward(torch.tensor(g))
    _assert_close(z, tz.detach().numpy(), 1e-5)
    _assert_close(dx, tx.grad.numpy(), 1e-5)
    _assert_close(down.weight.grad, tdown.weight.grad.numpy(), 1e-5)
    _assert_close(up.weight.grad, tup.weight.grad.numpy(), 1e-5)
    _assert_close(up.bias.grad, tup.bias.grad.numpy(), 1e-5)


# --- the modules ---------------------------------------------------------------------------------


def test_module_parameters_init_and_repr():
    conv = Conv2d(3, 8, 5, stride=2, padding=2, rng=0)
    assert [name for name, _ in conv.named_parameters()] == ["weight", "bias"]
    assert conv.weight.shape == (8, 3, 5, 5) and conv.weight.dtype == np.float32
    np.testing.assert_array_equal(conv.weight.data, Conv2d(3, 8, 5, rng=0).weight.data)
    assert np.all(conv.bias.data == 0)
    # He-normal: std sqrt(2 / fan_in), fan_in = 3 * 25
    assert abs(conv.weight.data.std() / np.sqrt(2 / 75) - 1) < 0.15
    up = ConvTranspose2d(8, 3, 5, stride=2, padding=2, output_padding=1, bias=False,
                         init="xavier", rng=0)
    assert up.weight.shape == (8, 3, 5, 5) and up.bias is None
    assert [name for name, _ in up.named_parameters()] == ["weight"]
    assert "output_padding=(1, 1)" in repr(up)
    assert "stride=(2, 2)" in repr(conv)


def test_module_backward_accumulates_and_eval_mode_recomputes_columns():
    rng = np.random.default_rng(9)
    conv = Conv2d(2, 3, 3, stride=2, padding=1, rng=0)
    x = rng.standard_normal((2, 2, 8, 8)).astype(np.float32)
    g = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    conv(x)
    dx = conv.backward(g)
    first = conv.weight.grad.copy()
    conv.eval()
    conv(x)
    assert "cols" not in conv._cache  # no column matrix is kept between the passes
    np.testing.assert_allclose(conv.backward(g), dx, rtol=1e-6)
    np.testing.assert_allclose(conv.weight.grad, 2 * first, rtol=1e-5)


def test_training_reuses_work_arrays_and_stays_exact():
    rng = np.random.default_rng(11)
    for layer, shape in ((Conv2d(3, 4, 5, stride=2, padding=2, rng=0), (2, 3, 12, 12)),
                         (ConvTranspose2d(3, 4, 5, stride=2, padding=2, output_padding=1, rng=0),
                          (2, 3, 6, 6))):
        x = rng.standard_normal(shape).astype(np.float32)
        results = []
        for _ in range(2):
            layer.zero_grad()
            out = layer(x)
            results.append((out, layer.backward(np.ones_like(out)), layer.weight.grad.copy()))
            buffers = {name: id(a) for name, a in layer._workspace.items()
                       if hasattr(a, "shape")}
            if len(results) == 1:
                first_buffers = buffers
        assert buffers == first_buffers and "cols" in buffers  # allocated once, then reused
        if isinstance(layer, Conv2d):  # a second backward pass rebuilds the used-up columns
            np.testing.assert_allclose(layer.backward(np.ones_like(out)), results[1][1])
        for a, b in zip(*results, strict=True):
            np.testing.assert_array_equal(a, b)
        # a new dtype (or backend) gets new buffers
        layer.astype(np.float64)
        out = layer(x)
        assert out.dtype == np.float64 and layer._workspace["cols"].dtype == np.float64
        np.testing.assert_allclose(out, results[0][0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("transposed", [False, True])
def test_training_chunks_give_the_whole_batch_result(transposed, monkeypatch):
    """Chunks of several images, of one image, or of a few rows of one image (as on larger
    crops) all give the result of one chunk for the whole batch."""
    rng = np.random.default_rng(13)
    # both layers: 3*25 rows of float32 columns, 6 positions per row (input positions for the
    # transposed layer, output positions otherwise), 7 such rows per image
    row_bytes, rows = 4 * 75 * 6, 7
    if transposed:
        layer = ConvTranspose2d(3, 4, 5, stride=2, padding=2, output_padding=1, rng=0)
        x = rng.standard_normal((3, 3, 7, 6)).astype(np.float32)
    else:
        layer = Conv2d(3, 4, 5, stride=2, padding=2, rng=0)
        x = rng.standard_normal((3, 3, 13, 11)).astype(np.float32)
    results = []
    for chunk_bytes in (2**30, 2 * rows * row_bytes, rows * row_bytes, 3 * row_bytes, 1):
        monkeypatch.setattr(conv_module, "TRAINING_CHUNK_BYTES", chunk_bytes)
        layer.zero_grad()
        out = layer(x)
        g = np.linspace(-1, 1, out.size, dtype=np.float32).reshape(out.shape)
        results.append((out, layer.backward(g), layer.weight.grad.copy(),
                        layer.bias.grad.copy()))
    for chunked in results[1:]:
        for a, b in zip(results[0], chunked, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("transposed", [False, True])
def test_backward_rebuilds_work_arrays_written_over_by_another_call(transposed):
    """The backward pass starts from the forward pass's last chunk of columns (Conv2d) or copy
    of the input (ConvTranspose2d) only while it is still in the shared work arrays."""
    rng = np.random.default_rng(14)
    if transposed:
        forward, backward = conv_transpose2d_forward, conv_transpose2d_backward
        w = rng.standard_normal((3, 4, 5, 5)).astype(np.float32)
        shape, out_shape = (2, 3, 5, 5), (2, 4, 10, 10)
        args = (2, 2, 1)
    else:
        forward, backward = conv2d_forward, conv2d_backward
        w = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
        shape, out_shape = (2, 3, 10, 9), (2, 4, 5, 5)
        args = (2, 2)
    b = rng.standard_normal(4).astype(np.float32)
    x1, x2 = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    g = rng.standard_normal(out_shape).astype(np.float32)
    expected = backward(g, forward(x1, w, b, *args)[1])
    workspace = {}
    cache1 = forward(x1, w, b, *args, workspace=workspace)[1]
    forward(x2, w, b, *args, workspace=workspace)
    for ours, theirs in zip(backward(g, cache1), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    cache2 = forward(x1, w, b, *args, workspace=workspace)[1]
    for _ in range(2):  # the second time, the held arrays are used up: built again
        for ours, theirs in zip(backward(g, cache2), expected, strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_modules_reject_bad_arguments():
    with pytest.raises(ValueError, match="output_padding"):
        ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="init"):
        Conv2d(2, 2, 3, init="lecun")
    with pytest.raises(ValueError, match="stride"):
        Conv2d(2, 2, 3, stride=0)
    conv = Conv2d(2, 2, 5)
    with pytest.raises(ValueError, match="channels"):
        conv(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        conv(np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        conv(np.zeros((2, 8, 8), np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(2, 2, 3).backward(np.zeros((1, 2, 1, 1), np.float32))
    conv(np.zeros((1, 2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="gradient shape"):
        conv.backward(np.zeros((1, 2, 5, 5), np.float32))


def test_input_follows_weight_dtype():
    conv = Conv2d(1, 2, 3, rng=0)
    out = conv(np.ones((1, 1, 5, 5)))  # float64 input, float32 layer
    assert out.dtype == np.float32
    assert conv.backward(np.ones_like(out)).dtype == np.float32


@pytest.mark.skipif("cupy" not in available_backends(), reason="needs CuPy and a GPU")
def test_cupy_matches_numpy():
    import cupy

    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 4, 16, 16)).astype(np.float32)
    for layer in (Conv2d(4, 6, 5, stride=2, padding=2, rng=0),
                  ConvTranspose2d(4, 6, 5, stride=2, padding=2, output_padding=1, rng=0)):
        out = layer(x)
        g = rng.standard_normal(out.shape).astype(np.float32)
        dx = layer.backward(g)
        layer.zero_grad()
        layer.to("cupy")
        out_gpu = layer(cupy.asarray(x))
        dx_gpu = layer.backward(cupy.asarray(g))
        np.testing.assert_allclose(out_gpu.get(), out, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(dx_gpu.get(), dx, rtol=1e-4, atol=1e-4)
