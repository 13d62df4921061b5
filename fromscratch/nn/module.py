"""Parameters, modules and the chain rule: backpropagation by hand.

A network is a composition of functions, ``y = f_n(... f_2(f_1(x)))``, and training needs the
gradient of a scalar loss ``L`` with respect to every weight. The *chain rule* gives it one layer
at a time, walking backwards (Linnainmaa 1970 for the general algorithm; Rumelhart, Hinton &
Williams 1986 for its use in training networks)::

    dL/dx_k = (d x_{k+1} / d x_k)^T  dL/dx_{k+1}

So every layer needs exactly two methods:

``forward(x)``
    computes ``y = f(x; theta)`` and *caches* on ``self`` whatever the backward pass will need
    (its input, or its output when the derivative is cheaper to write with it, as for a sigmoid).
``backward(grad_out)``
    receives ``dL/dy`` (same shape as ``y``), adds ``dL/dtheta`` into each parameter's ``.grad``
    and returns ``dL/dx`` (same shape as ``x``) for the layer before it.

Nothing here builds a graph: the caller runs the layers forward in order and backward in reverse
(:class:`Sequential` does exactly that), the way ``micrograd`` does for scalars and cs231n does
for arrays.

Why backward *accumulates*
--------------------------
``backward`` does ``p.grad += ...``, never ``p.grad = ...``. When a parameter is used twice (a
layer applied to two inputs, weights shared between an encoder and a decoder), the total
derivative is the *sum* of the contributions of each use - the multivariable chain rule. Summing
is also what lets one gradient step average over several small batches (gradient accumulation).
The price is that gradients must be cleared before each step: ``zero_grad()``.

The data layout
---------------
A :class:`Parameter` is a pair of arrays of the same shape and dtype, ``data`` and ``grad``, on
one backend (NumPy or CuPy). A :class:`Module` finds its children by walking ``vars(self)`` in
the order the attributes were set: every attribute that is a Parameter, a Module, or a list/tuple
of Modules. Names are dotted paths, as in PyTorch: ``encoder.0.weight`` is the ``weight`` of the
first layer of the ``encoder`` attribute, so state dicts can be compared with torch's by eye.

Inference keeps no caches: ``no_grad``
--------------------------------------
The caches are what training pays for the backward pass: every layer's input (or output) stays
in memory until ``backward`` runs. A codec only runs forward, and on a 12-megapixel photo one
layer's activations alone take hundreds of megabytes. Inside ``with nn.no_grad():`` (as in
torch) every layer skips its cache, a later ``backward`` raises a clear error instead of using a
stale one, and the layers may take cheaper paths that only inference allows: convolutions in row
bands (:mod:`~fromscratch.nn.conv_banded`) and a :class:`Sequential` letting element-wise layers
(GDN) overwrite the activations it owns instead of allocating new ones. This is separate from
``eval()``, which changes what a layer *computes* (rounding instead of noise in the entropy
bottleneck): a gradient through an evaluation-mode model is still legitimate (a gradient check
of the rounded rate, say), a gradient under ``no_grad`` is not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..backend import _import_cupy, array_module, to_numpy
from .io import WeightsError

__all__ = ["Module", "Parameter", "Sequential", "is_grad_enabled", "no_grad"]

_grad_mode = threading.local()  # per thread, as in torch: one thread may infer while one trains


def is_grad_enabled() -> bool:
    """False inside :func:`no_grad` (in this thread): layers then keep no backward cache."""
    return getattr(_grad_mode, "enabled", True)


@contextmanager
def no_grad():
    """Context manager for inference: no layer keeps what its backward pass would need.

    ``with nn.no_grad(): y = model(x)`` gives the same ``y`` as without it (to float rounding:
    convolutions then run in row bands), holds far less memory, and makes ``model.backward``
    raise until a forward pass runs outside the context again. Nests, and restores the previous
    mode on exit, even after an exception.
    """
    previous = is_grad_enabled()
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


#: Stands in a layer's ``_cache`` after a forward pass under :func:`no_grad`.
NO_CACHE = object()


class Parameter:
    """A trainable array and the gradient of the loss with respect to it.

    Parameters
    ----------
    data : array (NumPy or CuPy), any shape
        The values. Kept as given (no copy); ``grad`` is created on the same backend.
    name : str, optional
        A label for messages; modules name parameters by attribute, so it is rarely needed.

    Attributes
    ----------
    data : array
        The current values, updated in place by the optimizers.
    grad : array, same shape and dtype as ``data``
        ``dL/d data``, accumulated by ``backward`` and cleared by :meth:`zero_grad`.
    """

    def __init__(self, data, name: str = ""):
        xp = array_module(data)
        self.data = xp.asarray(data)
        self.grad = xp.zeros_like(self.data)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    def zero_grad(self) -> None:
        """Set the gradient to zero in place (the array object is kept)."""
        self.grad[...] = 0

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Parameter({label}shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class of every layer and network: forward, backward, and the parameter bookkeeping.

    Subclasses implement :meth:`forward` and :meth:`backward`; the rest (``parameters``,
    ``state_dict``, ``train``/``eval``, dtype and backend moves) comes from walking the attributes.
    Calling the module calls ``forward``.
    """

    #: Training mode (True) or evaluation mode (False); layers such as dropout or noisy
    #: quantisers look at it. A class attribute so subclasses need not call ``super().__init__``.
    training: bool = True

    # ---- the two methods every layer writes ------------------------------------------------
    def forward(self, x):
        """Compute the output for ``x`` and cache what :meth:`backward` needs on ``self``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out):
        """Given ``dL/d output``, add ``dL/d theta`` into each ``Parameter.grad`` (``+=``) and
        return ``dL/d input``. Uses the cache of the most recent :meth:`forward`."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- the backward cache ------------------------------------------------------------------
    def _keep(self, cache):
        """``cache``, or :data:`NO_CACHE` under :func:`no_grad` (store the result in ``_cache``)."""
        return cache if is_grad_enabled() else NO_CACHE

    def _require_cache(self):
        """The cache of the last forward pass, or a RuntimeError saying why there is none."""
        cache = getattr(self, "_cache", None)
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        if cache is NO_CACHE:
            raise RuntimeError(f"{type(self).__name__}.backward: the last forward pass ran under "
                               "nn.no_grad(), which keeps nothing for backward; run forward "
                               "again outside no_grad()")
        return cache

    # ---- walking the tree --------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module | Parameter]]:
        """Direct Parameters and sub-Modules, in attribute order, with their local names.

        A list or tuple of Modules named ``blocks`` yields ``blocks.0``, ``blocks.1``, ...
        """
        for name, value in vars(self).items():
            if isinstance(value, (Module, Parameter)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Module, Parameter)):
                        yield f"{name}.{i}", item

    def named_modules(self, prefix: str = "") -> list[tuple[str, Module]]:
        """This module (named ``prefix``) and every sub-module below it, depth first."""
        found = [(prefix, self)]
        for name, child in self.named_children():
            if isinstance(child, Module):
                found.extend(child.named_modules(f"{prefix}.{name}" if prefix else name))
        return found

    def modules(self) -> list[Module]:
        """This module and every sub-module below it, depth first."""
        return [m for _, m in self.named_modules()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """Every Parameter below this module with its dotted name, in definition order.

        A Parameter reachable twice (shared weights) is listed once, under its first name, so an
        optimizer never updates it twice.
        """
        seen: set[int] = set()
        found: list[tuple[str, Parameter]] = []

        def visit(module: Module, prefix: str) -> None:
            for name, child in module.named_children():
                full = f"{prefix}{name}"
                if isinstance(child, Parameter):
                    if id(child) not in seen:
                        seen.add(id(child))
                        found.append((full, child))
                else:
                    visit(child, full + ".")

        visit(self, "")
        return found

    def parameters(self) -> list[Parameter]:
        """Every Parameter below this module, in definition order (what an optimizer takes)."""
        return [p for _, p in self.named_parameters()]

    # ---- modes and gradients -----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every sub-module; returns ``self``."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``train(False)``); returns ``self``."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Clear the gradient of every parameter (``backward`` accumulates into them)."""
        for p in self.parameters():
            p.zero_grad()

    def release_buffers(self) -> None:
        """Drop what every sub-module keeps from its last forward pass: the backward caches and
        the work arrays that training reuses from step to step (the convolutions'). A model that
        stays loaded after a backward pass it will not repeat (an encoder's search, say) gives
        that memory back; the next forward pass allocates again."""
        for m in self.modules():
            if getattr(m, "_cache", None) is not None:
                m._cache = None
            workspace = getattr(m, "_workspace", None)
            if isinstance(workspace, dict):
                workspace.clear()

    # ---- saving and loading ------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """``{dotted name: host (NumPy) copy of the values}`` for every parameter."""
        return {name: np.array(to_numpy(p.data), copy=True) for name, p in self.named_parameters()}

    def load_state_dict(self, state, *, source: str = "state") -> Module:
        """Copy values from ``state`` (name -> array) into the parameters, in place.

        Every parameter must be present with its exact shape, and no other names may appear;
        otherwise a :class:`~fromscratch.nn.WeightsError` names ``source`` (e.g. the weight file),
        the offending parameter and the expected and actual shapes. Values are cast to each
        parameter's dtype and moved to its backend. Returns ``self``.
        """
        params = dict(self.named_parameters())
        missing = [n for n in params if n not in state]
        unexpected = [n for n in state if n not in params]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected {', '.join(unexpected)}")
            raise WeightsError(
                f"{source}: parameters do not match {type(self).__name__}: {'; '.join(parts)}"
            )
        for name, p in params.items():
            value = state[name]
            shape = tuple(np.shape(value))
            if shape != p.shape:
                raise WeightsError(
                    f"{source}: parameter {name!r} has shape {shape}, expected {p.shape}"
                )
        for name, p in params.items():
            xp = array_module(p.data)
            p.data[...] = xp.asarray(to_numpy(state[name]), dtype=p.data.dtype)
        return self

    # ---- dtype and backend -------------------------------------------------------------------
    def astype(self, dtype) -> Module:
        """Convert every parameter and its gradient to ``dtype`` (e.g. float64 for gradchecks).

        Layers holding non-parameter arrays (constant buffers) override this and call ``super()``.
        Returns ``self``.
        """
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = p.grad.astype(dtype)
        return self

    def to(self, backend: str) -> Module:
        """Move every parameter and gradient to ``"numpy"`` or ``"cupy"``; returns ``self``.

        Caches of a previous forward pass stay where they were: run forward again after a move.
        """
        if backend == "numpy":
            for p in self.parameters():
                p.data, p.grad = to_numpy(p.data), to_numpy(p.grad)
        elif backend == "cupy":
            cp = _import_cupy()
            for p in self.parameters():
                p.data, p.grad = cp.asarray(p.data), cp.asarray(p.grad)
        else:
            raise ValueError(f"unknown backend {backend!r}; choose 'numpy' or 'cupy'")
        return self

    def __repr__(self) -> str:
        children = [(n, c) for n, c in self.named_children() if isinstance(c, Module)]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            lines.append("  (" + name + "): " + repr(child).replace("\n", "\n  "))
        return "\n".join([*lines, ")"])

    def extra_repr(self) -> str:
        """The text inside the parentheses of ``repr`` for a leaf layer."""
        return ""


class Sequential(Module):
    """Modules applied one after another: forward in order, backward in reverse.

    ``Sequential(a, b, c).forward(x) = c(b(a(x)))`` and ``backward(g)`` feeds ``g`` to ``c``
    first, exactly the chain rule. It can be indexed (``net[0]``), sliced (a new Sequential
    sharing the layers), measured with ``len`` and iterated; parameter names are ``0.weight``,
    ``1.bias``, ...
    """

    def __init__(self, *modules: Module):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential item {i} is {type(m).__name__}, not a Module")
        self.layers = list(modules)

    def named_children(self) -> Iterator[tuple[str, Module | Parameter]]:
        for i, m in enumerate(self.layers):
            yield str(i), m

    def forward(self, x):
        # Under no_grad the activations between layers belong to this loop alone (no cache holds
        # them), so an element-wise layer offering ``forward_in_place`` may overwrite them: on a
        # large image that saves one full-size array per layer. Only arrays that own their memory
        # and are not the caller's ``x`` qualify (never a view, nor the input passed through).
        # The input is remembered by id only, so that a caller handing over its only reference
        # lets it be freed after the first layer; a reused id only forgoes an in-place step.
        source = id(x)
        for m in self.layers:
            if (not is_grad_enabled() and hasattr(m, "forward_in_place") and id(x) != source
                    and getattr(x, "base", x) is None):
                x = m.forward_in_place(x)
            else:
                x = m.forward(x)
        return x

    def backward(self, grad_out):
        for m in reversed(self.layers):
            grad_out = m.backward(grad_out)
        return grad_out

    def append(self, module: Module) -> Sequential:
        """Add a module at the end; returns ``self``."""
        if not isinstance(module, Module):
            raise TypeError(f"cannot append {type(module).__name__}, not a Module")
        self.layers.append(module)
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)
