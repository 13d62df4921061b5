"""Weight files: one ``.npz`` of plain arrays plus a JSON header, and never a pickle.

Why not pickle
--------------
``pickle`` (and ``torch.load`` before ``weights_only``) can run arbitrary code while loading, so a
downloaded weight file would be a program. A ``.npz`` is a zip of ``.npy`` arrays; loaded with
``numpy.load(..., allow_pickle=False)`` it can only ever produce numbers, and an object array
(the one thing NumPy would pickle) is refused.

The layout
----------
One file holds everything needed to rebuild and audit a trained model::

    "param/<dotted name>"   float arrays, the Module.state_dict()  (e.g. "param/encoder.0.weight")
    "extra/<name>"          any other numeric arrays: optimizer state, statistics, CDF tables
    "hyperparams"           a 0-d unicode array holding JSON text: layer sizes, training
                            settings, and the exact command that produced the file

Writing is atomic: the arrays go to a temporary file in the same directory, which then replaces
the target with ``os.replace`` (atomic on POSIX and Windows), so an interrupted training run
never leaves a half-written weight file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._files import default_file_mode
from ..backend import to_numpy

__all__ = ["Weights", "WeightsError", "load_weights", "save_weights"]

_PARAM, _EXTRA, _HYPER = "param/", "extra/", "hyperparams"


class WeightsError(ValueError):
    """A weight file or state dict is missing, malformed, or does not fit the model."""


@dataclass
class Weights:
    """What :func:`load_weights` returns.

    Attributes
    ----------
    state : dict[str, numpy.ndarray]
        Parameter arrays by dotted name, ready for ``Module.load_state_dict``.
    extra : dict[str, numpy.ndarray]
        The other arrays saved with them.
    hyperparams : dict
        The decoded JSON header.
    path : str
        The file they came from (use it as ``source=`` when loading into a module).
    """

    state: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    hyperparams: dict = field(default_factory=dict)
    path: str = ""


def _host_arrays(arrays, prefix: str, path) -> dict[str, np.ndarray]:
    out = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name:
            raise WeightsError(f"{path}: array names must be non-empty strings, got {name!r}")
        a = np.asarray(to_numpy(value))
        if a.dtype.hasobject:
            raise WeightsError(f"{path}: {prefix}{name} is an object array (would need pickle)")
        out[prefix + name] = a
    return out


def save_weights(path, module_or_state, hyperparams: dict, *, extra=None) -> None:
    """Write parameters, extra arrays and JSON hyperparameters to one ``.npz`` file, atomically.

    Parameters
    ----------
    path : str or Path
        The target file (its directory is created if needed; the name is used as given).
    module_or_state : Module or dict[str, array]
        A module (its ``state_dict()`` is saved) or a state dict.
    hyperparams : dict
        JSON-serialisable settings; a :class:`WeightsError` is raised otherwise.
    extra : dict[str, array], optional
        Further numeric arrays, saved under ``extra/<name>``.
    """
    path = Path(path)
    if not isinstance(hyperparams, dict):
        raise WeightsError(f"{path}: hyperparams must be a dict, got {type(hyperparams).__name__}")
    try:
        header = json.dumps(hyperparams, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: hyperparams are not JSON-serialisable: {exc}") from exc
    state = module_or_state
    if hasattr(state, "state_dict"):
        state = state.state_dict()
    arrays = _host_arrays(state, _PARAM, path)
    arrays.update(_host_arrays(extra or {}, _EXTRA, path))
    arrays[_HYPER] = np.array(header)

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # a file object: numpy does not append ".npz" to the name
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_weights(path) -> Weights:
    """Read a file written by :func:`save_weights`, never unpickling anything.

    Raises
    ------
    WeightsError
        (naming the file) when it is missing, not an ``.npz``, holds object arrays or unknown
        names, or lacks a valid JSON ``hyperparams`` object.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weight file not found")
    weights = Weights(path=str(path))
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):  # a bare .npy file gives an ndarray
            raise WeightsError(f"{path}: not an .npz weight file")
        with npz:
            for key in npz.files:
                if key.startswith(_PARAM):
                    weights.state[key[len(_PARAM) :]] = npz[key]
                elif key.startswith(_EXTRA):
                    weights.extra[key[len(_EXTRA) :]] = npz[key]
                elif key != _HYPER:
                    raise WeightsError(f"{path}: unexpected array {key!r} in weight file")
            if _HYPER not in npz.files:
                raise WeightsError(f"{path}: no 'hyperparams' entry; not a fromscratch weight file")
            header = npz[_HYPER]
    except WeightsError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise WeightsError(f"{path}: cannot read weight file: {exc}") from exc
    if header.dtype.kind != "U" or header.ndim != 0:
        raise WeightsError(f"{path}: 'hyperparams' must be a 0-d unicode array of JSON text")
    try:
        weights.hyperparams = json.loads(str(header))
    except json.JSONDecodeError as exc:
        raise WeightsError(f"{path}: 'hyperparams' is not valid JSON: {exc}") from exc
    if not isinstance(weights.hyperparams, dict):
        raise WeightsError(f"{path}: 'hyperparams' must be a JSON object")
    return weights
