"""One interface for every codec, and the registry that lets chapters add theirs by name.

Every codec in the book, from the uncompressed ``raw`` to the learned ``balle2017``, looks the same
from outside::

    codec = get_codec("raw")            # or get_codec("pillow-jpeg", quality=50)
    data = codec.encode(image)          # uint8 (H, W) or (H, W, 3) -> bytes
    image2 = codec.decode(data)         # bytes -> uint8 array of the same shape

A codec *class* declares its ``name``, its :class:`Parameter` s (name, default, allowed values) and
the ``settings`` swept by RD curves; the ``@register`` decorator adds it to the registry, and from
then on ``fromscratch.compress``, the CLI, the demo and the benchmarks know it.

From-scratch codecs derive from :class:`ContainerCodec`: they turn an image into payload bytes and
back, and the base class wraps the payload in the package's container (``fromscratch.container``),
recording the parameters so that decoding needs nothing but the bytes. Reference codecs (Pillow's
JPEG, WebP, ...) write their own file formats; they set ``from_scratch = False`` and are there only
to be compared against.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from .. import container
from ..backend import to_numpy
from ..bitstream import BitstreamError

__all__ = [
    "Codec",
    "ContainerCodec",
    "Parameter",
    "as_image",
    "codec_class",
    "codec_for_data",
    "codec_names",
    "get_codec",
    "register",
]


@runtime_checkable
class Codec(Protocol):
    """What every codec offers (see the module docstring)."""

    name: ClassVar[str]
    from_scratch: ClassVar[bool]
    params: dict

    def encode(self, image: np.ndarray) -> bytes: ...

    def decode(self, data: bytes) -> np.ndarray: ...


@dataclass(frozen=True)
class Parameter:
    """One keyword parameter of a codec: its type, default and allowed values.

    ``low``/``high`` bound numbers (inclusive), ``choices`` lists allowed values. Strings coming
    from the command line (``"75"``, ``"true"``) are converted to ``kind``. A parameter only the
    encoder uses (``in_stream=False``: how long it searches, say) is not written into the
    stream's header; the decoder gets its default.
    """

    default: Any
    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    help: str = ""
    in_stream: bool = True

    def validate(self, name: str, value: Any) -> Any:
        value = self._convert(name, value)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{name} must be one of {list(self.choices)}, got {value!r}")
        if self.low is not None and value < self.low:
            raise ValueError(f"{name} must be >= {self.low}, got {value!r}")
        if self.high is not None and value > self.high:
            raise ValueError(f"{name} must be <= {self.high}, got {value!r}")
        return value

    def _convert(self, name: str, value: Any) -> Any:
        if self.kind is bool:
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false",
                                                            "no", "off"):
                return value.lower() in ("1", "true", "yes", "on")
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise ValueError(f"{name} must be a boolean, got {value!r}")
        if self.kind is int and not isinstance(value, (bool, np.bool_)):
            if isinstance(value, (int, np.integer)):
                return int(value)
            if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
                return int(value)
        if self.kind is float and not isinstance(value, (bool, np.bool_)):
            if isinstance(value, (int, float, np.integer, np.floating)):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
        if self.kind is str and isinstance(value, str):
            return value
        raise ValueError(f"{name} must be of type {self.kind.__name__}, got {value!r}")


def as_image(image) -> np.ndarray:
    """Check and normalise an image: uint8, shape (H, W) or (H, W, 3), C-contiguous NumPy.

    (H, W, 1) is squeezed to (H, W); CuPy arrays are copied to the host.
    """
    array = to_numpy(image)
    if array.dtype != np.uint8:
        raise ValueError(f"images are uint8 arrays, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f"images have shape (H, W) or (H, W, 3), got {array.shape}")
    if array.size == 0:
        raise ValueError(f"empty image of shape {array.shape}")
    return np.ascontiguousarray(array)


class _CodecBase:
    """Parameter handling shared by container and reference codecs."""

    name: ClassVar[str] = ""
    from_scratch: ClassVar[bool] = True
    #: Keyword parameters the codec accepts.
    parameters: ClassVar[dict[str, Parameter]] = {}
    #: Parameter sets swept by RD curves and the demo, lowest rate first.
    settings: ClassVar[tuple[dict, ...]] = ({},)
    #: One line for tables and `--help`.
    description: ClassVar[str] = ""
    #: The file format the codec writes, as ``info`` names it.
    file_format: ClassVar[str] = "fromscratch container"

    def __init__(self, **params: Any):
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            known = ", ".join(self.parameters) or "none"
            raise ValueError(
                f"codec {self.name!r} has no parameter {unknown[0]!r} (known: {known})"
            )
        self.params = {
            key: spec.validate(key, params.get(key, spec.default))
            for key, spec in self.parameters.items()
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    @classmethod
    def sniff(cls, data: bytes) -> bool:
        """True when ``data`` looks like this codec's own file format (non-container codecs)."""
        return False


class ContainerCodec(_CodecBase, ABC):
    """Base class of the from-scratch codecs: payload in, payload out, container around it.

    Subclasses implement :meth:`encode_payload` and :meth:`decode_payload`; ``decode_payload`` must
    raise :class:`BitstreamError` for any payload it cannot read.
    """

    @abstractmethod
    def encode_payload(self, image: np.ndarray) -> bytes:
        """Compress a checked image (uint8, (H, W) or (H, W, 3)) to payload bytes."""

    @abstractmethod
    def decode_payload(self, payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
        """Rebuild the image of ``shape`` from the payload; BitstreamError if it cannot."""

    def with_params(self, **params: Any) -> ContainerCodec:
        """A codec like this one with ``params`` (those of a stream's header): :meth:`decode`
        decodes with it. A codec that holds more than its parameters (a weight file given by
        path, say) carries it over here."""
        return type(self)(**params)

    def encode(self, image) -> bytes:
        image = as_image(image)
        payload = self.encode_payload(image)
        written = {key: value for key, value in self.params.items()
                   if self.parameters[key].in_stream}
        return container.pack(self.name, image.shape, written, payload)

    def decode(self, data: bytes) -> np.ndarray:
        header, payload = container.unpack(data)
        if header.codec != self.name:
            raise BitstreamError(
                f"stream was written by codec {header.codec!r}, not {self.name!r}"
            )
        try:
            codec = self.with_params(**header.params)
        except ValueError as exc:
            raise BitstreamError(f"invalid codec parameters in the header: {exc}") from None
        image = codec.decode_payload(payload, header.shape)
        if image.shape != header.shape or image.dtype != np.uint8:
            raise BitstreamError(
                f"payload decoded to {image.dtype} {image.shape}, header says uint8 {header.shape}"
            )
        return image


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------
_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make a codec class available by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"codec name {cls.name!r} is already taken by {existing.__name__}")
    _REGISTRY[cls.name] = cls
    return cls


def codec_names(from_scratch: bool | None = None) -> list[str]:
    """Registered codec names, from-scratch codecs first (all, or only one of the two kinds)."""
    names = [
        name
        for name, cls in _REGISTRY.items()
        if from_scratch is None or cls.from_scratch == from_scratch
    ]
    return sorted(names, key=lambda name: not _REGISTRY[name].from_scratch)


def codec_class(name: str) -> type:
    """The codec class registered as ``name`` (ValueError with the list of names otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown codec {name!r}; available: {', '.join(codec_names())}"
        ) from None


def get_codec(name: str, **params: Any) -> Codec:
    """An instance of codec ``name`` with the given parameters (validated)."""
    return codec_class(name)(**params)


def codec_for_data(data: bytes) -> Codec:
    """The codec that can decode ``data``: the container's codec, else one that sniffs the format.

    From-scratch codecs are preferred over reference codecs that read the same format (so a JPEG
    file goes to the book's own decoder once that chapter is in the registry).
    """
    if container.is_container(data):
        header = container.read_header(data)
        if header.codec not in _REGISTRY:
            raise BitstreamError(
                f"stream written by codec {header.codec!r}, which this version of fromscratch "
                f"does not have (available: {', '.join(codec_names())})"
            )
        return _REGISTRY[header.codec]()
    readers = [cls for cls in _REGISTRY.values() if cls.sniff(data)]
    if not readers:
        raise BitstreamError(
            f"unrecognised data: neither a fromscratch container nor a format a registered codec "
            f"reads (first bytes: {bytes(data[:8]).hex(' ') or 'none'})"
        )
    readers.sort(key=lambda cls: not cls.from_scratch)
    return readers[0]()
