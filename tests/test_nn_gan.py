"""Chapter 5's layers and losses: spectral normalization, the GAN losses and the MS-SSIM loss,
each against finite differences (float64) and against torch / pytorch-msssim."""

from __future__ import annotations

import numpy as np
import pytest

from fromscratch import metrics, nn
from fromscratch.nn.gan_losses import softplus
from fromscratch.nn.ms_ssim_loss import MS_SSIM_WEIGHTS, gaussian_window, ms_ssim_forward
from fromscratch.nn.spectral_norm import spectral_normalize_backward, spectral_normalize_forward


def _randn(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- spectral normalization -------------------------------------------------------------------
def test_spectral_normalize_pair_gradcheck():
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((4, 6))
    u, v = rng.standard_normal(4), rng.standard_normal(6)
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)

    def forward(w):
        return spectral_normalize_forward(w, u, v)[0]

    def backward(dout, inputs):
        return (spectral_normalize_backward(dout, spectral_normalize_forward(inputs[0], u, v)[1]),)

    result = nn.gradcheck((forward, backward), [matrix])
    assert result.ok, str(result)


@pytest.mark.parametrize(
    "layer",
    [
        nn.Linear(5, 3, rng=0),
        nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=1),
        nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1, rng=2),
    ],
    ids=lambda m: type(m).__name__,
)
def test_spectral_norm_gradcheck(layer):
    """In eval mode u and v are frozen, so finite differences see the function backward uses."""
    wrapped = nn.SpectralNorm(layer, rng=3).eval()
    shape = (4, 5) if isinstance(layer, nn.Linear) else (2, layer.in_channels, 5, 5)
    result = nn.gradcheck(wrapped, [_randn(shape, 4)])
    assert result.ok, str(result)
    assert set(result.errors) == {"input0", "layer.weight", "layer.bias"}


def test_spectral_norm_power_iteration_finds_the_top_singular_value():
    layer = nn.Linear(20, 10, rng=0, dtype="float64")
    wrapped = nn.SpectralNorm(layer, rng=1)
    for _ in range(30):  # training-mode calls refine u, v as the weight stays put
        wrapped(np.zeros((1, 20)))
    top = np.linalg.svd(layer.weight.data, compute_uv=False)[0]
    assert wrapped.sigma == pytest.approx(top, rel=1e-9)
    normalized = layer.weight.data / wrapped.sigma
    assert np.linalg.svd(normalized, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-9)


def test_spectral_norm_accumulates_and_keeps_the_grad_array():
    layer = nn.Linear(3, 2, rng=0, dtype="float64")
    wrapped = nn.SpectralNorm(layer, rng=1).eval()
    grad_array = layer.weight.grad
    x, g = _randn((4, 3), 1), _randn((4, 2), 2)
    wrapped(x)
    wrapped.backward(g)
    once = grad_array.copy()
    wrapped(x)
    wrapped.backward(g)
    assert layer.weight.grad is grad_array
    np.testing.assert_allclose(grad_array, 2 * once, rtol=1e-12)


@pytest.mark.parametrize("kind", ["Linear", "Conv2d", "ConvTranspose2d"])
def test_spectral_norm_matches_torch(kind):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.parametrizations import spectral_norm

    if kind == "Linear":
        ours, ref, shape = nn.Linear(6, 4, rng=0, dtype="float64"), torch.nn.Linear(6, 4), (3, 6)
    elif kind == "Conv2d":
        ours = nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=0, dtype="float64")
        ref, shape = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 7, 7)
    else:
        ours = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1, rng=0,
                                  dtype="float64")
        ref = torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)
        shape = (2, 4, 4, 4)
    ref = spectral_norm(ref.double())
    wrapped = nn.SpectralNorm(ours)
    parametrization = ref.parametrizations.weight
    with torch.no_grad():
        parametrization.original.copy_(torch.from_numpy(ours.weight.data))
        ref.bias.copy_(torch.from_numpy(_randn(ours.bias.shape, 5)))
        parametrization[0]._u.copy_(torch.from_numpy(np.asarray(wrapped.u)))
        parametrization[0]._v.copy_(torch.from_numpy(np.asarray(wrapped.v)))
    ours.bias.data[...] = ref.bias.detach().numpy()
    x, g = _randn(shape, 6), None
    for _ in range(3):  # three training steps' worth of power iterations stay in step
        xt = torch.from_numpy(x).requires_grad_(True)
        out_t = ref(xt)
        out = wrapped(x)
        g = _randn(out.shape, 7)
        out_t.backward(torch.from_numpy(g))
        ours.zero_grad()
        dx = wrapped.backward(g)
        np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.weight.grad, parametrization.original.grad.numpy(),
                                   rtol=1e-9, atol=1e-12)
        parametrization.original.grad = None
    np.testing.assert_allclose(wrapped.u, parametrization[0]._u.numpy(), rtol=1e-10, atol=1e-12)


def test_spectral_norm_buffers_round_trip():
    wrapped = nn.SpectralNorm(nn.Conv2d(2, 3, 3, rng=0), rng=1)
    saved = wrapped.buffers()
    other = nn.SpectralNorm(nn.Conv2d(2, 3, 3, rng=0), rng=2).load_buffers(saved)
    np.testing.assert_array_equal(other.u, wrapped.u)
    np.testing.assert_array_equal(other.v, wrapped.v)
    with pytest.raises(ValueError, match="shape"):
        other.load_buffers({"u": np.zeros(5), "v": saved["v"]})
    with pytest.raises(TypeError):
        nn.SpectralNorm(nn.ReLU())


# ---- GAN losses ---------------------------------------------------------------------------------
def test_softplus_is_stable_and_exact():
    x = np.array([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0])
    with np.errstate(over="raise"):
        y = softplus(x)
    np.testing.assert_allclose(y[2:5], np.log1p(np.exp(x[2:5])), rtol=1e-15)
    assert y[0] == 0.0 and y[-1] == 1000.0
    assert np.isfinite(softplus(np.float32(-200.0)))


@pytest.mark.parametrize("kind", ["nonsaturating", "hinge"])
def test_discriminator_loss_gradcheck(kind):
    real, fake = _randn((4, 1, 3, 3), 0) * 2, _randn((6,), 1) * 2
    if kind == "hinge":  # keep finite differences off the kinks at +-1
        real, fake = real + 0.05 * np.sign(real - 1), fake + 0.05 * np.sign(fake + 1)
    result = nn.gradcheck(nn.DiscriminatorLoss(kind), [real, fake])
    assert result.ok, str(result)
    assert set(result.errors) == {"input0", "input1"}


@pytest.mark.parametrize("kind", ["nonsaturating", "saturating", "hinge"])
def test_generator_loss_gradcheck(kind):
    result = nn.gradcheck(nn.GeneratorLoss(kind), [_randn((3, 4), 2) * 3])
    assert result.ok, str(result)


def test_gan_losses_match_torch():
    torch = pytest.importorskip("torch")
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    real, fake = _randn((5, 7), 0) * 4, _randn((3, 1, 4), 1) * 4
    rt, ft = (torch.from_numpy(a).requires_grad_(True) for a in (real, fake))
    ref = {
        ("d", "nonsaturating"): lambda: bce(rt, torch.ones_like(rt))
        + bce(ft, torch.zeros_like(ft)),
        ("d", "hinge"): lambda: torch.relu(1 - rt).mean() + torch.relu(1 + ft).mean(),
        ("g", "nonsaturating"): lambda: bce(ft, torch.ones_like(ft)),
        ("g", "saturating"): lambda: -bce(ft, torch.zeros_like(ft)),
        ("g", "hinge"): lambda: -ft.mean(),
    }
    for (who, kind), make in ref.items():
        rt.grad = ft.grad = None
        loss_t = make()
        (1.5 * loss_t).backward()
        if who == "d":
            loss_fn = nn.DiscriminatorLoss(kind)
            loss = loss_fn(real, fake)
            d_real, d_fake = loss_fn.backward(1.5)
            np.testing.assert_allclose(d_real, rt.grad.numpy(), rtol=1e-12, atol=1e-15)
        else:
            loss_fn = nn.GeneratorLoss(kind)
            loss = loss_fn(fake)
            d_fake = loss_fn.backward(1.5)
        assert loss.shape == ()
        assert float(loss) == pytest.approx(loss_t.item(), rel=1e-12), (who, kind)
        np.testing.assert_allclose(d_fake, ft.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_gan_losses_refuse_unknown_kinds():
    with pytest.raises(ValueError, match="hinge"):
        nn.DiscriminatorLoss("wasserstein")
    with pytest.raises(ValueError, match="saturating"):
        nn.GeneratorLoss("least-squares")


def test_nonsaturating_generator_gradient_is_large_when_fakes_are_rejected():
    """The point of the non-saturating loss: a confident discriminator still teaches."""
    rejected = np.full(4, -8.0)
    ns, sat = nn.GeneratorLoss("nonsaturating"), nn.GeneratorLoss("saturating")
    ns(rejected)
    sat(rejected)
    assert np.abs(ns.backward()).sum() > 1000 * np.abs(sat.backward()).sum()


# ---- MS-SSIM loss ------------------------------------------------------------------------------
def _image_pair(shape, seed=0, noise=0.15):
    rng = np.random.default_rng(seed)
    target = rng.uniform(0, 1, shape)
    return np.clip(target + rng.normal(0, noise, shape), 0, 1), target


@pytest.mark.parametrize(
    "shape, weights",
    [((2, 1, 12, 13), (1.0,)), ((1, 2, 22, 24), (0.4, 0.6)), ((1, 1, 45, 46), (0.2, 0.3, 0.5))],
)
def test_ms_ssim_loss_finite_differences(shape, weights):
    """Float64 centred differences. Pixels at an image's corners reach the loss only through the
    Gaussian's 1e-5 tails, so their gradients are tiny and their *relative* error is rounding
    noise; the error is measured against the gradient's scale instead. The loss sums thousands
    of products (and var = E[x²] - mu² cancels), so it is known to ~1e-14, not 1e-16: eps = 1e-4
    balances that rounding against the O(eps²) truncation (error ~2e-9 of the scale)."""
    pred, target = _image_pair(shape)
    loss_fn = nn.MSSSIMLoss(1.0, weights)
    loss_fn(pred, target)
    analytic = loss_fn.backward()
    numerical = nn.numerical_gradient(lambda _: loss_fn.forward(pred, target), pred, eps=1e-4)
    scale = np.abs(numerical).max()
    assert np.abs(analytic - numerical).max() < 1e-7 * scale


def test_ms_ssim_loss_equals_metrics_ms_ssim():
    pred, target = _image_pair((2, 3, 180, 177), seed=1, noise=0.1)
    value, _ = ms_ssim_forward(pred * 255, target * 255, data_range=255.0)
    for i in range(2):
        expected = metrics.ms_ssim(pred[i].transpose(1, 2, 0) * 255,
                                   target[i].transpose(1, 2, 0) * 255)
        assert value[i].mean() == pytest.approx(expected, rel=1e-12)
    loss = nn.MSSSIMLoss(1.0)(pred, target)
    assert float(loss) == pytest.approx(1 - value.mean(), rel=1e-10)


def test_ms_ssim_window_and_weights_are_the_metrics_ones():
    assert MS_SSIM_WEIGHTS == metrics.MS_SSIM_WEIGHTS
    np.testing.assert_allclose(gaussian_window(), metrics._gaussian_window(), rtol=0, atol=0)


@pytest.mark.parametrize("weights", [MS_SSIM_WEIGHTS, (0.2, 0.3, 0.5)])
def test_ms_ssim_loss_matches_pytorch_msssim(weights):
    torch = pytest.importorskip("torch")
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    pred, target = _image_pair((2, 3, 176, 192), seed=2, noise=0.1)
    window = torch.from_numpy(gaussian_window()).reshape(1, 1, -1).repeat(3, 1, 1, 1)
    pt = torch.from_numpy(pred).requires_grad_(True)
    value_t = pytorch_msssim.ms_ssim(pt, torch.from_numpy(target), data_range=1.0,
                                     weights=list(weights), win=window)
    (1 - value_t).backward()
    loss_fn = nn.MSSSIMLoss(1.0, weights)
    loss = loss_fn(pred, target)
    grad = loss_fn.backward()
    assert float(loss) == pytest.approx(1 - value_t.item(), rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=1e-8, atol=1e-14)


def test_ms_ssim_loss_float32_agrees_with_float64():
    pred, target = _image_pair((1, 3, 64, 64), seed=3)
    weights = (0.2, 0.3, 0.5)
    f64 = nn.MSSSIMLoss(1.0, weights)
    f32 = nn.MSSSIMLoss(1.0, weights)
    loss64, loss32 = f64(pred, target), f32(pred.astype("float32"), target.astype("float32"))
    assert loss32.dtype == np.float32
    assert float(loss32) == pytest.approx(float(loss64), abs=1e-5)
    grad32, grad64 = f32.backward(), f64.backward()
    assert grad32.dtype == np.float32
    assert np.abs(grad32 - grad64).max() < 1e-3 * np.abs(grad64).max()


def test_ms_ssim_loss_refuses_small_or_mismatched_images():
    with pytest.raises(ValueError, match="176"):
        nn.MSSSIMLoss()(np.zeros((1, 1, 100, 200)), np.zeros((1, 1, 100, 200)))
    with pytest.raises(ValueError, match="shape"):
        nn.MSSSIMLoss()(np.zeros((1, 1, 200, 200)), np.zeros((1, 1, 200, 201)))
    with pytest.raises(RuntimeError):
        nn.MSSSIMLoss().backward()
