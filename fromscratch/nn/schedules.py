"""Learning-rate schedules: large steps to get near a minimum, small ones to settle into it.

With a fixed learning rate, stochastic gradients keep the weights bouncing around a minimum in a
ball whose size grows with ``lr``. Lowering ``lr`` during training shrinks the ball. Two common
shapes, both functions of the step number ``s`` and the optimizer's initial rate ``lr_0``:

Step decay
    ``lr(s) = lr_0 * gamma ** floor(s / step_size)``: divide by ``1/gamma`` every ``step_size``
    steps (the classic ImageNet recipe; many learned-compression papers drop the rate once late
    in training).
Cosine decay (Loshchilov & Hutter 2017) with linear warm-up
    ``lr(s) = lr_0 * (s + 1) / warmup`` for the first ``warmup`` steps (Adam's second-moment
    estimate is noisy at the start, so early steps are kept small), then half a cosine from
    ``lr_0`` down to ``min_lr`` at ``total_steps``::

        p = (s - warmup) / (total_steps - warmup)          (clipped to [0, 1])
        lr(s) = min_lr + (lr_0 - min_lr) (1 + cos(pi p)) / 2

Usage: create the schedule after the optimizer (it reads ``optimizer.lr`` as ``lr_0`` and sets
``lr(0)``), then call ``schedule.step()`` once after each ``optimizer.step()``; after ``k`` calls
the optimizer uses ``lr(k)``.
"""

from __future__ import annotations

import math

__all__ = ["CosineDecay", "Schedule", "StepDecay"]


class Schedule:
    """Base class: keeps the step counter and writes ``lr_at(step)`` into ``optimizer.lr``."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_step = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, step: int) -> float:
        """The learning rate after ``step`` calls of :meth:`step`."""
        raise NotImplementedError

    @property
    def lr(self) -> float:
        """The learning rate for the current step."""
        return self.lr_at(self.last_step)

    def step(self) -> float:
        """Advance one step, set ``optimizer.lr`` and return it."""
        self.last_step += 1
        self.optimizer.lr = self.lr_at(self.last_step)
        return self.optimizer.lr

    def state_dict(self) -> dict:
        """``{"last_step": int, "base_lr": float}``: all a resumed run needs."""
        return {"last_step": self.last_step, "base_lr": self.base_lr}

    def load_state_dict(self, d: dict) -> Schedule:
        """Restore :meth:`state_dict` output and set the optimizer's rate to match."""
        self.last_step = int(d["last_step"])
        self.base_lr = float(d["base_lr"])
        self.optimizer.lr = self.lr_at(self.last_step)
        return self


class StepDecay(Schedule):
    """``lr(s) = lr_0 * gamma ** (s // step_size)``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.gamma ** (int(step) // self.step_size)


class CosineDecay(Schedule):
    """Linear warm-up over ``warmup_steps``, then a half cosine from ``lr_0`` to ``min_lr`` at
    ``total_steps``; ``min_lr`` afterwards."""

    def __init__(self, optimizer, total_steps: int, min_lr: float = 0.0, warmup_steps: int = 0):
        if total_steps < 1 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                f"need total_steps >= 1 and 0 <= warmup_steps <= total_steps, "
                f"got {total_steps} and {warmup_steps}"
            )
        self.total_steps, self.warmup_steps = int(total_steps), int(warmup_steps)
        self.min_lr = float(min_lr)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        step = int(step)
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        span = max(self.total_steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / span, 1.0)
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
