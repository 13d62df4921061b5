"""Optimizers and schedules: equal to torch.optim step by step, resumable, exact schedule values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from fromscratch import nn


def _problem(seed=0):
    """A float64 two-layer net, a batch and a target: something with a non-trivial gradient."""
    rng = np.random.default_rng(seed)
    net = nn.Sequential(nn.Linear(3, 5, rng=1), nn.Tanh(), nn.Linear(5, 2, rng=2))
    return net.astype(np.float64), rng.standard_normal((8, 3)), rng.standard_normal((8, 2))


def _train(net, opt, x, y, steps, schedule=None):
    loss_fn = nn.MSELoss()
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(net(x), y)
        net.backward(loss_fn.backward())
        opt.step()
        if schedule is not None:
            schedule.step()


def _torch_trajectory(torch, net, x, y, make_opt, steps):
    params = [torch.tensor(p.data.copy(), requires_grad=True) for p in net.parameters()]
    w1, b1, w2, b2 = params
    opt = make_opt(params)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        opt.zero_grad()
        out = torch.tanh(xt @ w1.T + b1) @ w2.T + b2
        torch.nn.functional.mse_loss(out, yt).backward()
        opt.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (dict(lr=0.1), dict(lr=0.1)),
        (dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9)),
        (
            dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
            dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        ),
    ],
    ids=["plain", "momentum", "nesterov+wd"],
)
def test_sgd_matches_torch(ours, theirs):
    torch = pytest.importorskip("torch")
    net, x, y = _problem()
    expected = _torch_trajectory(torch, net, x, y, lambda p: torch.optim.SGD(p, **theirs), 12)
    _train(net, nn.SGD(net.parameters(), **ours), x, y, 12)
    for p, q in zip(net.parameters(), expected, strict=True):
        np.testing.assert_allclose(p.data, q, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_matches_torch(weight_decay):
    torch = pytest.importorskip("torch")
    net, x, y = _problem(1)
    settings = dict(lr=0.01, betas=(0.8, 0.99), eps=1e-7, weight_decay=weight_decay)
    expected = _torch_trajectory(torch, net, x, y, lambda p: torch.optim.Adam(p, **settings), 15)
    initial = [p.data.copy() for p in net.parameters()]
    _train(net, nn.Adam(net.parameters(), **settings), x, y, 15)
    for p, q, p0 in zip(net.parameters(), expected, initial, strict=True):
        assert np.abs(p.data - p0).max() > 1e-3  # it really moved
        np.testing.assert_allclose(p.data, q, rtol=1e-6, atol=1e-12)


def test_first_adam_step_is_lr_times_sign():
    # bias correction makes m_hat / sqrt(v_hat) = g / |g| on step 1: every weight moves by lr
    p = nn.Parameter(np.zeros(4))
    p.grad[...] = [3.0, -0.001, 50.0, -2.0]
    nn.Adam([p], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(p.data, [-0.1, 0.1, -0.1, 0.1], rtol=1e-12)


def test_momentum_buffer_by_hand():
    p = nn.Parameter(np.array([1.0]))
    opt = nn.SGD([p], lr=0.1, momentum=0.5)
    for _ in range(3):
        p.grad[...] = 2.0
        opt.step()
    # v = 2, 3, 3.5 -> theta = 1 - 0.1 * (2 + 3 + 3.5)
    assert p.data[0] == pytest.approx(1 - 0.85, rel=1e-12)


def test_optimizer_argument_errors():
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError):
        nn.SGD([], lr=0.1)
    with pytest.raises(TypeError):
        nn.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        nn.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        nn.Adam([p], betas=(0.9, 1.0))


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_resume_from_state_dict_gives_identical_trajectory(kind, tmp_path):
    def make(net):
        if kind == "sgd":
            opt = nn.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
        else:
            opt = nn.Adam(net.parameters(), lr=0.02, weight_decay=1e-3)
        return opt, nn.CosineDecay(opt, total_steps=20, min_lr=1e-4, warmup_steps=3)

    net, x, y = _problem(2)
    opt, sched = make(net)
    _train(net, opt, x, y, 20, sched)
    straight = [p.data.copy() for p in net.parameters()]

    net, x, y = _problem(2)
    opt, sched = make(net)
    _train(net, opt, x, y, 8, sched)
    # through a weight file, as a training script would checkpoint
    extra = {f"optim/{k}": np.asarray(v) for k, v in opt.state_dict().items()}
    extra.update({f"sched/{k}": np.asarray(v) for k, v in sched.state_dict().items()})
    nn.save_weights(tmp_path / "ckpt.npz", net, {"step": 8}, extra=extra)

    saved = nn.load_weights(tmp_path / "ckpt.npz")
    net2 = _problem(3)[0]
    net2.load_state_dict(saved.state, source=saved.path)
    opt2, sched2 = make(net2)
    opt2.load_state_dict({k[6:]: v for k, v in saved.extra.items() if k.startswith("optim/")})
    sched2.load_state_dict({k[6:]: v for k, v in saved.extra.items() if k.startswith("sched/")})
    assert opt2.step_count == 8 and opt2.lr == opt.lr
    _train(net2, opt2, x, y, 12, sched2)
    for p, q in zip(net2.parameters(), straight, strict=True):
        np.testing.assert_array_equal(p.data, q)


def test_optimizer_state_dict_contents_and_validation():
    net, x, y = _problem()
    opt = nn.Adam(net.parameters(), lr=0.01)
    assert set(opt.state_dict()) == {"lr", "step", "beta1", "beta2", "eps", "weight_decay"}
    _train(net, opt, x, y, 2)
    state = opt.state_dict()
    assert state["step"] == 2
    assert state["exp_avg.0"].shape == (5, 3) and isinstance(state["exp_avg_sq.3"], np.ndarray)
    other = nn.Adam(_problem()[0].parameters())
    with pytest.raises(ValueError, match=r"exp_avg\.0"):
        other.load_state_dict(dict(state, **{"exp_avg.0": np.zeros((3, 5))}))
    with pytest.raises(ValueError, match="unexpected"):
        other.load_state_dict(dict(state, **{"momentum_buffer.0": np.zeros((5, 3))}))


# ---- schedules --------------------------------------------------------------------------------
def _opt(lr=1.0):
    return nn.SGD([nn.Parameter(np.zeros(1))], lr=lr)


def test_step_decay_values():
    opt = _opt(0.1)
    sched = nn.StepDecay(opt, step_size=3, gamma=0.5)
    seen = [opt.lr] + [sched.step() for _ in range(7)]
    assert seen == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025], rel=1e-12)
    assert opt.lr == pytest.approx(0.025) and sched.lr_at(30) == pytest.approx(0.1 * 0.5**10)


def test_cosine_decay_values():
    opt = _opt(1.0)
    sched = nn.CosineDecay(opt, total_steps=10, min_lr=0.1, warmup_steps=2)
    assert opt.lr == pytest.approx(0.5)  # warm-up: (0 + 1) / 2
    assert sched.lr_at(1) == pytest.approx(1.0)
    assert sched.lr_at(2) == pytest.approx(1.0)
    assert sched.lr_at(6) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert sched.lr_at(10) == pytest.approx(0.1) and sched.lr_at(50) == pytest.approx(0.1)
    lrs = [sched.step() for _ in range(10)]
    assert all(a >= b for a, b in itertools.pairwise(lrs))  # non-increasing after warm-up
    assert opt.lr == pytest.approx(0.1)
    plain = nn.CosineDecay(_opt(2.0), total_steps=4)
    assert [plain.lr_at(s) for s in range(5)] == pytest.approx(
        [2.0, 1 + math.cos(math.pi / 4), 1.0, 1 - math.cos(math.pi / 4), 0.0]
    )


def test_schedule_state_dict_restores_the_rate():
    opt = _opt(0.3)
    sched = nn.StepDecay(opt, step_size=2)
    for _ in range(5):
        sched.step()
    opt2 = _opt(0.3)
    sched2 = nn.StepDecay(opt2, step_size=2).load_state_dict(sched.state_dict())
    assert opt2.lr == pytest.approx(0.003) and sched2.last_step == 5
    with pytest.raises(ValueError):
        nn.CosineDecay(_opt(), total_steps=5, warmup_steps=6)
