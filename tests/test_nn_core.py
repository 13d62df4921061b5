"""The NN core: gradients (finite differences and torch), module bookkeeping, init, learning."""

from __future__ import annotations

import numpy as np
import pytest

from fromscratch import backend, nn
from fromscratch.nn import functional as F


def _randn(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _away_from_zero(shape, seed=0, margin=0.1):
    """Inputs for kinked activations: |x| >= margin so finite differences never straddle 0."""
    x = _randn(shape, seed)
    return np.where(x >= 0, x + margin, x - margin)


# ---- gradcheck of every layer and loss (float64) ----------------------------------------------
@pytest.mark.parametrize(
    "layer",
    [
        nn.Linear(5, 3, rng=0),
        nn.Linear(5, 3, bias=False, init="he", rng=1),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.ReLU(),
        nn.LeakyReLU(0.2),
        nn.Identity(),
    ],
    ids=lambda m: repr(m),
)
def test_gradcheck_layers(layer):
    x = _away_from_zero((4, 5), seed=1)
    result = nn.gradcheck(layer, [x])
    assert result.ok, str(result)
    assert result.max_error < 1e-6
    expected = {"input0"} | {name for name, _ in layer.named_parameters()}
    assert set(result.errors) == expected


def test_gradcheck_linear_with_leading_batch_dims():
    result = nn.gradcheck(nn.Linear(3, 2, rng=0), [_randn((2, 3, 3))])
    assert result.ok, str(result)


def test_gradcheck_mse_loss_checks_prediction_only():
    pred, target = _randn((3, 4), 0), _randn((3, 4), 1)
    result = nn.gradcheck(nn.MSELoss(), [pred, target])
    assert result.ok, str(result)
    assert set(result.errors) == {"input0"}


def test_gradcheck_l1_loss_away_from_its_kink():
    pred, target = _randn((3, 4), 0), _randn((3, 4), 1)  # |pred - target| >> eps everywhere
    result = nn.gradcheck(nn.L1Loss(), [pred, target])
    assert result.ok, str(result)
    assert set(result.errors) == {"input0"}


def test_gradcheck_network_and_functional_pair():
    net = nn.Sequential(nn.Linear(3, 6, rng=0), nn.Tanh(), nn.Linear(6, 2, rng=1), nn.Sigmoid())
    assert nn.gradcheck(net, [_randn((5, 3))]).ok

    def forward(x, w, b):
        return F.linear_forward(x, w, b)[0]

    def backward(dout, inputs):
        return F.linear_backward(dout, F.linear_forward(*inputs)[1])

    result = nn.gradcheck((forward, backward), [_randn((4, 3)), _randn((2, 3), 1), _randn(2, 2)])
    assert result.ok, str(result)
    assert set(result.errors) == {"input0", "input1", "input2"}


def test_gradcheck_catches_a_wrong_backward():
    class Square(nn.Module):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, grad_out):
            return grad_out * self.x  # wrong: the derivative is 2x

    result = nn.gradcheck(Square(), [_randn((3, 3))])
    assert not result.ok
    assert result.max_error > 0.3


def test_gradcheck_leaves_the_module_untouched():
    layer = nn.Linear(3, 2, rng=0)
    layer.weight.grad[...] = 7.0
    before = layer.weight.data.copy()
    nn.gradcheck(layer, [_randn((2, 3))])
    assert layer.weight.data.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, before)
    assert np.all(layer.weight.grad == 7.0)


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 0.5])
    grad = nn.numerical_gradient(lambda v: np.sum(v**3), x, eps=1e-5)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])  # restored


# ---- equal to torch ---------------------------------------------------------------------------
def test_linear_matches_torch():
    torch = pytest.importorskip("torch")
    layer = nn.Linear(7, 5, rng=3).astype(np.float64)
    ref = torch.nn.Linear(7, 5).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.weight.data))
        ref.bias.copy_(torch.from_numpy(layer.bias.data))
    x, g = _randn((2, 3, 7), 4), _randn((2, 3, 5), 5)
    xt = torch.from_numpy(x).requires_grad_(True)
    out_t = ref(xt)
    out_t.backward(torch.from_numpy(g))
    out = layer(x)
    dx = layer.backward(g)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, ref.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, ref.bias.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Identity"])
def test_activations_match_torch(name):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, name)(0.3) if name == "LeakyReLU" else getattr(nn, name)()
    ref = torch.nn.LeakyReLU(0.3) if name == "LeakyReLU" else getattr(torch.nn, name)()
    x, g = _randn((6, 9), 1) * 4, _randn((6, 9), 2)
    xt = torch.from_numpy(x).requires_grad_(True)
    ref(xt).backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours(x), ref(torch.from_numpy(x)).numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_mse_matches_torch():
    torch = pytest.importorskip("torch")
    pred, target = _randn((4, 3, 2), 1), _randn((4, 3, 2), 2)
    pt = torch.from_numpy(pred).requires_grad_(True)
    loss_t = torch.nn.MSELoss()(pt, torch.from_numpy(target))
    (2.5 * loss_t).backward()
    loss_fn = nn.MSELoss()
    loss = loss_fn(pred, target)
    assert loss.shape == ()
    assert float(loss) == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(loss_fn.backward(2.5), pt.grad.numpy(), rtol=1e-12)


def test_l1_matches_torch():
    torch = pytest.importorskip("torch")
    pred, target = _randn((4, 3, 2), 3), _randn((4, 3, 2), 4)
    pt = torch.from_numpy(pred).requires_grad_(True)
    loss_t = torch.nn.L1Loss()(pt, torch.from_numpy(target))
    (0.5 * loss_t).backward()
    loss_fn = nn.L1Loss()
    assert float(loss_fn(pred, target)) == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(loss_fn.backward(0.5), pt.grad.numpy(), rtol=1e-12)


def test_sigmoid_is_stable_for_large_inputs():
    x = np.array([-1000.0, -80.0, 0.0, 80.0, 1000.0], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise"):  # underflow to 0 is the right answer
        out = nn.Sigmoid()(x)
    np.testing.assert_allclose(out, [0.0, 1.8e-35, 0.5, 1.0, 1.0], rtol=1e-2, atol=0)
    assert out.dtype == np.float32


# ---- the Module bookkeeping -------------------------------------------------------------------
class _Codec(nn.Module):
    def __init__(self):
        self.encoder = nn.Sequential(nn.Linear(4, 3, rng=0), nn.ReLU(), nn.Linear(3, 2, rng=1))
        self.heads = [nn.Linear(2, 2, rng=2), nn.Linear(2, 1, bias=False, rng=3)]
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))


def test_named_parameters_are_dotted_and_in_definition_order():
    names = [name for name, _ in _Codec().named_parameters()]
    assert names == [
        "encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
        "heads.0.weight", "heads.0.bias", "heads.1.weight", "scale",
    ]  # fmt: skip
    model = _Codec()
    assert len(model.parameters()) == 8
    assert model.parameters()[0] is model.encoder[0].weight
    assert len(model.modules()) == 1 + 4 + 2


def test_shared_parameters_are_listed_once():
    a = nn.Linear(3, 3, rng=0)
    b = nn.Linear(3, 3, rng=1)
    b.weight = a.weight
    net = nn.Sequential(a, b)
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.bias"]


def test_train_eval_recursive_and_zero_grad():
    model = _Codec()
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    for p in model.parameters():
        p.grad += 1
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


def test_backward_accumulates_into_grad():
    layer = nn.Linear(3, 2, rng=0)
    x, g = _randn((4, 3)).astype(np.float32), _randn((4, 2), 1).astype(np.float32)
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * once, rtol=1e-6)
    np.testing.assert_allclose(once, g.T @ x, rtol=1e-5)


def test_sequential_container_protocol():
    layers = [nn.Linear(2, 3, rng=0), nn.Tanh(), nn.Linear(3, 1, rng=1)]
    net = nn.Sequential(*layers)
    assert len(net) == 3 and net[1] is layers[1] and list(net) == layers
    assert isinstance(net[:2], nn.Sequential) and len(net[:2]) == 2
    x = _randn((5, 2)).astype(np.float32)
    np.testing.assert_allclose(net(x), layers[2](layers[1](layers[0](x))), rtol=1e-6)
    with pytest.raises(TypeError):
        nn.Sequential(nn.Tanh(), "not a module")


def test_state_dict_roundtrip_and_host_copies():
    a, b = _Codec(), _Codec()
    for p in b.parameters():
        p.data[...] = 0
    state = a.state_dict()
    assert all(type(v) is np.ndarray for v in state.values())
    state["scale"][...] = 5  # a copy: the module does not change
    assert np.all(a.scale.data == 1)
    assert b.load_state_dict(a.state_dict()) is b
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_load_state_dict_errors_name_source_parameter_and_shapes():
    model = _Codec()
    state = model.state_dict()
    wrong = dict(state, **{"encoder.0.weight": np.zeros((3, 5), np.float32)})
    with pytest.raises(nn.WeightsError, match=r"w\.npz.*encoder\.0\.weight.*\(3, 5\).*\(3, 4\)"):
        model.load_state_dict(wrong, source="w.npz")
    missing = {k: v for k, v in state.items() if k != "scale"}
    with pytest.raises(nn.WeightsError, match=r"ckpt.*missing scale"):
        model.load_state_dict(missing, source="ckpt")
    with pytest.raises(nn.WeightsError, match=r"unexpected extra\.w"):
        model.load_state_dict(dict(state, **{"extra.w": np.zeros(1)}))


def test_astype_converts_params_and_grads():
    model = _Codec().astype(np.float64)
    assert all(p.data.dtype == np.float64 and p.grad.dtype == np.float64
               for p in model.parameters())  # fmt: skip
    assert model.to("numpy") is model
    with pytest.raises(ValueError, match="unknown backend"):
        model.to("tpu")


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Linear(2, 2).backward(np.zeros((1, 2)))


# ---- initialisation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("draw", "shape", "variance"),
    [
        (nn.init.xavier_uniform, (400, 600), 2 / 1000),
        (nn.init.xavier_normal, (400, 600), 2 / 1000),
        (nn.init.he_uniform, (400, 600), 2 / 600),
        (nn.init.he_normal, (64, 32, 5, 5), 2 / 800),
    ],
)
def test_init_variance(draw, shape, variance):
    w = draw(shape, rng=0)
    assert w.shape == shape and w.dtype == np.float32
    assert abs(float(w.mean())) < 0.02 * np.sqrt(variance)
    assert float(w.var()) == pytest.approx(variance, rel=0.03)


def test_init_fans_seeds_and_bounds():
    assert nn.init.fans((10, 20)) == (20, 10)
    assert nn.init.fans((8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError):
        nn.init.fans((10,))
    np.testing.assert_array_equal(nn.init.he_normal((5, 5), 7), nn.init.he_normal((5, 5), 7))
    assert not np.array_equal(nn.init.he_normal((5, 5), 7), nn.init.he_normal((5, 5), 8))
    w = nn.init.xavier_uniform((30, 20), 0, dtype="float64", gain=2.0)
    assert w.dtype == np.float64 and np.abs(w).max() <= 2 * np.sqrt(6 / 50)
    assert np.abs(w).max() > 0.95 * 2 * np.sqrt(6 / 50)
    np.testing.assert_array_equal(nn.Linear(4, 3, rng=5).weight.data,
                                  nn.init.xavier_uniform((3, 4), 5))  # fmt: skip
    assert not nn.init.zeros((3, 2)).any()


# ---- it learns --------------------------------------------------------------------------------
def _fit(net, optimizer, x, y, steps):
    loss_fn = nn.MSELoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(net(x), y)
        net.backward(loss_fn.backward())
        optimizer.step()
    return float(loss_fn(net(x), y))


def test_xor_is_learned():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    net = nn.Sequential(nn.Linear(2, 4, rng=0), nn.Tanh(), nn.Linear(4, 1, rng=1), nn.Sigmoid())
    loss = _fit(net, nn.SGD(net.parameters(), lr=0.5, momentum=0.9), x, y, steps=1000)
    assert loss < 0.01
    assert np.array_equal(net(x) > 0.5, y > 0.5)


def test_sine_regression_with_adam():
    x = np.linspace(-np.pi, np.pi, 256, dtype=np.float32)[:, None]
    net = nn.Sequential(nn.Linear(1, 32, rng=0), nn.Tanh(), nn.Linear(32, 1, rng=1))
    loss = _fit(net, nn.Adam(net.parameters(), lr=1e-2), x, np.sin(x), steps=1500)
    assert loss < 1e-3


# ---- the same code on the GPU -----------------------------------------------------------------
@pytest.mark.skipif("cupy" not in backend.available_backends(), reason="needs CuPy and a GPU")
def test_the_core_runs_on_cupy():
    import cupy

    x = _randn((16, 3)).astype(np.float32)
    y = np.sin(x.sum(axis=1, keepdims=True))

    def make(xp):
        return nn.Sequential(
            nn.Linear(3, 8, rng=0, xp=xp), nn.Tanh(), nn.Linear(8, 1, init="he", rng=1, xp=xp)
        )

    cpu, gpu = make(np), make(cupy)
    assert isinstance(gpu[0].weight.data, cupy.ndarray)
    for p, q in zip(cpu.parameters(), gpu.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data.get())  # same seed, same weights
    loss_cpu = _fit(cpu, nn.Adam(cpu.parameters(), lr=1e-2), x, y, steps=20)
    loss_gpu = _fit(gpu, nn.Adam(gpu.parameters(), lr=1e-2), cupy.asarray(x), cupy.asarray(y), 20)
    assert loss_gpu == pytest.approx(loss_cpu, rel=1e-4)
    for p, q in zip(cpu.parameters(), gpu.parameters(), strict=True):
        assert isinstance(q.grad, cupy.ndarray)
        np.testing.assert_allclose(q.data.get(), p.data, rtol=1e-4, atol=1e-5)
    assert all(type(v) is np.ndarray for v in gpu.state_dict().values())
    assert nn.gradcheck(gpu, [cupy.asarray(x[:3])]).ok
    assert nn.gradcheck(nn.MSELoss(), [cupy.asarray(x), cupy.asarray(x[::-1])]).ok
    assert isinstance(make(np).to("cupy").load_state_dict(cpu.state_dict())[0].weight.data,
                      cupy.ndarray)  # fmt: skip
    back = gpu.to("numpy")
    assert all(isinstance(p.data, np.ndarray) for p in back.parameters())
