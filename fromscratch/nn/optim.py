"""Optimizers: turning gradients into steps (SGD with momentum, Nesterov, Adam).

Gradient descent
----------------
With ``g_t = dL/dtheta`` at step ``t``, plain gradient descent moves downhill::

    theta_{t+1} = theta_t - lr * g_t

Weight decay (an L2 penalty ``wd/2 |theta|^2`` in the loss) simply adds ``wd * theta`` to ``g_t``;
here, as in ``torch.optim``, that is done before everything below.

Momentum (Polyak 1964)
----------------------
In a long narrow valley the gradient zig-zags across it and barely moves along it. A *velocity*
``v`` averages the recent gradients, so the zig-zags cancel and the consistent component builds
up::

    v_t = mu v_{t-1} + g_t          (v_1 = g_1)
    theta_{t+1} = theta_t - lr * v_t

Unrolled, ``v_t = sum_k mu^k g_{t-k}``: a steady gradient is amplified by ``1 / (1 - mu)`` (10x
for ``mu = 0.9``). *Nesterov's* variant (Nesterov 1983; Sutskever et al. 2013) looks one step
ahead and steps with ``g_t + mu v_t`` instead of ``v_t``, which damps overshooting. These are
PyTorch's formulas (no dampening), so the two agree step by step.

Adam (Kingma & Ba 2015)
-----------------------
Adam keeps exponential moving averages of the gradient and of its square (per element)::

    m_t = b1 m_{t-1} + (1 - b1) g_t            (first moment, the direction)
    v_t = b2 v_{t-1} + (1 - b2) g_t^2          (second moment, the scale)

Starting from ``m_0 = v_0 = 0`` biases both towards zero early on: ``E[m_t] = (1 - b1^t) E[g]``.
Dividing by ``1 - b^t`` removes the bias (*bias correction*), and the step is::

    theta_{t+1} = theta_t - lr * m_hat / (sqrt(v_hat) + eps),
    m_hat = m_t / (1 - b1^t),  v_hat = v_t / (1 - b2^t)

The ratio is roughly ``+-1`` per element whatever the scale of the gradient, so ``lr`` is about
the largest step any weight takes: one learning rate suits layers of very different scales.

Checkpoints: ``state_dict()`` returns a flat dict of host arrays and Python scalars (``lr``,
``step``, hyperparameters, and per-parameter buffers named ``"<buffer>.<index>"``), which
:func:`~fromscratch.nn.save_weights` can store as ``extra`` arrays; ``load_state_dict`` restores
it so that a resumed run follows the same trajectory as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np

from ..backend import array_module, to_numpy
from .module import Parameter

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    """Holds the parameters, the learning rate and per-parameter buffers.

    Subclasses set ``_buffers`` (the names of their per-parameter state) and ``_hyper`` (the
    names of their scalar settings) and implement :meth:`step`.
    """

    _buffers: tuple[str, ...] = ()
    _hyper: tuple[str, ...] = ()

    def __init__(self, params, lr: float):
        self.params: list[Parameter] = list(params)
        if not self.params:
            raise ValueError("the optimizer got no parameters")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"parameter {i} is {type(p).__name__}, not a Parameter")
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        self.lr = float(lr)
        self.step_count = 0
        # one entry per parameter and buffer name; None until the first step creates it
        self.state: dict[str, list] = {b: [None] * len(self.params) for b in self._buffers}

    def zero_grad(self) -> None:
        """Clear every parameter's gradient."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Update every parameter from its ``.grad``."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Flat ``{name: host array or Python scalar}``: ``lr``, ``step``, the hyperparameters and
        each buffer as ``"<buffer>.<param index>"`` (buffers not yet created are left out)."""
        d: dict = {"lr": self.lr, "step": self.step_count}
        d.update({h: getattr(self, h) for h in self._hyper})
        for b, values in self.state.items():
            for i, v in enumerate(values):
                if v is not None:
                    d[f"{b}.{i}"] = np.array(to_numpy(v), copy=True)
        return d

    def load_state_dict(self, d: dict) -> Optimizer:
        """Restore :meth:`state_dict` output (scalars may come back as 0-d arrays from a file).

        Raises ``ValueError`` for buffers that do not fit the parameters. Returns ``self``.
        """
        known = {"lr", "step", *self._hyper}
        for key in d:
            if key in known:
                continue
            name, _, index = key.rpartition(".")
            if name not in self.state or not index.isdigit() or int(index) >= len(self.params):
                raise ValueError(f"unexpected optimizer state entry {key!r}")
            if tuple(np.shape(d[key])) != self.params[int(index)].shape:
                raise ValueError(
                    f"optimizer state {key!r} has shape {tuple(np.shape(d[key]))}, "
                    f"expected {self.params[int(index)].shape}"
                )
        self.lr = float(d["lr"])
        self.step_count = int(d["step"])
        for h in self._hyper:
            if h in d:
                setattr(self, h, type(getattr(self, h))(np.asarray(d[h]).item()))
        for b, values in self.state.items():
            for i, p in enumerate(self.params):
                value = d.get(f"{b}.{i}")
                xp = array_module(p.data)
                values[i] = None if value is None else xp.asarray(value, dtype=p.data.dtype)
        return self


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    momentum : float
        ``mu`` in ``v = mu v + g``; 0 for plain SGD.
    weight_decay : float
        L2 coefficient added to the gradient as ``wd * theta``.
    nesterov : bool
        Step with ``g + mu v`` (needs ``momentum > 0``).
    """

    _buffers = ("momentum_buffer",)
    _hyper = ("momentum", "weight_decay", "nesterov")

    def __init__(
        self,
        params,
        lr: float,
        *,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        super().__init__(params, lr)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.nesterov = bool(nesterov)

    def step(self) -> None:
        self.step_count += 1
        buffers = self.state["momentum_buffer"]
        for i, p in enumerate(self.params):
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                if buffers[i] is None:
                    buffers[i] = g.copy()
                else:
                    buffers[i] *= self.momentum
                    buffers[i] += g
                g = g + self.momentum * buffers[i] if self.nesterov else buffers[i]
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam with bias correction; ``weight_decay`` is the L2 form added to the gradient
    (``torch.optim.Adam``), not the decoupled AdamW.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    betas : (float, float)
        Decay rates ``(b1, b2)`` of the first and second moment averages.
    eps : float
        Added to ``sqrt(v_hat)`` so that a zero gradient history cannot divide by zero.
    weight_decay : float
    """

    _buffers = ("exp_avg", "exp_avg_sq")
    _hyper = ("beta1", "beta2", "eps", "weight_decay")

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        *,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        self.beta1, self.beta2 = float(b1), float(b2)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)

    @property
    def betas(self) -> tuple[float, float]:
        return self.beta1, self.beta2

    def step(self) -> None:
        self.step_count += 1
        t, b1, b2 = self.step_count, self.beta1, self.beta2
        correction1, correction2 = 1 - b1**t, 1 - b2**t
        for i, p in enumerate(self.params):
            xp = array_module(p.data)
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.state["exp_avg"][i] is None:
                self.state["exp_avg"][i] = xp.zeros_like(p.data)
                self.state["exp_avg_sq"][i] = xp.zeros_like(p.data)
            m, v = self.state["exp_avg"][i], self.state["exp_avg_sq"][i]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            p.data -= self.lr * (m / correction1) / (xp.sqrt(v / correction2) + self.eps)
