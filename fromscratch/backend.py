"""One switch between NumPy (CPU) and CuPy (GPU).

Array code in this package never writes ``numpy.zeros`` when it could run on a GPU: it asks
for the current *array namespace* ``xp`` and writes ``xp.zeros``. CuPy copies NumPy's API closely
enough that the same function body runs on either, so a user flips one switch and nothing else
changes::

    from fromscratch import backend
    backend.use("cupy")          # or set FROMSCRATCH_BACKEND=cupy before importing
    xp = backend.get_xp()        # -> the cupy module
    x = xp.ones((4, 4), dtype=xp.float32)
    backend.to_numpy(x)          # -> a numpy.ndarray, whatever x was

Three small rules keep code backend-agnostic:

1. Ask for ``xp`` once, at the top of a function (``xp = backend.array_module(x)`` when the input
   decides, ``backend.get_xp()`` when it does not).
2. Convert to NumPy only at the edges: image I/O, Numba kernels (Numba compiles CPU code) and
   entropy coding, which are sequential by nature.
3. Draw random numbers with a seeded NumPy generator (``make_rng``) and move them with
   ``xp.asarray``: the same seed then gives the same numbers on both backends.
"""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np

__all__ = [
    "BackendError",
    "array_module",
    "available_backends",
    "get_xp",
    "make_rng",
    "to_numpy",
    "use",
]

_BACKENDS = ("numpy", "cupy")
_current = "numpy"


class BackendError(RuntimeError):
    """The requested array backend cannot be used on this machine."""


def _import_cupy() -> ModuleType:
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(
            "the 'cupy' backend needs CuPy, which is not installed: "
            "pip install -e '.[gpu]' (CUDA 12) or pick the cupy wheel for your CUDA version"
        ) from exc
    try:
        device_count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CuPy raises its own CUDA error types
        raise BackendError(f"CuPy is installed but cannot reach a GPU: {exc}") from exc
    if device_count == 0:
        raise BackendError("CuPy is installed but no CUDA device is visible")
    return cupy


def use(name: str) -> ModuleType:
    """Make ``name`` ("numpy" or "cupy") the current backend and return its module.

    Raises :class:`BackendError` with an install hint when CuPy or a GPU is missing.
    """
    global _current
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(_BACKENDS)}")
    module = np if name == "numpy" else _import_cupy()
    _current = name
    return module


def get_xp() -> ModuleType:
    """The array module of the current backend (``numpy`` or ``cupy``)."""
    return np if _current == "numpy" else _import_cupy()


def current_backend() -> str:
    """The name of the current backend."""
    return _current


def available_backends() -> list[str]:
    """The backends that work on this machine (``numpy`` always; ``cupy`` with a GPU)."""
    names = ["numpy"]
    try:
        _import_cupy()
    except BackendError:
        pass
    else:
        names.append("cupy")
    return names


def array_module(*arrays) -> ModuleType:
    """The module that owns ``arrays``: ``cupy`` if any of them is a CuPy array, else ``numpy``.

    It never imports CuPy when none of the arrays comes from it: cheap on CPU-only machines.
    """
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            import cupy

            return cupy
    return np


def to_numpy(a) -> np.ndarray:
    """Return ``a`` as a NumPy array, copying from the GPU when it is a CuPy array."""
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)


def make_rng(seed: int | np.random.Generator | None = None) -> np.random.Generator:
    """A NumPy random generator (PCG64) from ``seed``; a generator passed in is returned as is.

    Random draws happen on the CPU and are moved with ``xp.asarray``, so one seed gives one stream
    of numbers whichever backend the arrays later live on.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


_requested = os.environ.get("FROMSCRATCH_BACKEND", "").strip().lower()
if _requested:
    use(_requested)
