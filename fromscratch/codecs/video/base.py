"""What every video codec offers, and the registry of video codecs (separate from image codecs).

A video codec turns frames, a uint8 array (T, H, W) or (T, H, W, 3), into the bytes of a
``codecs.video.container`` stream and back::

    codec = get_video_codec("mc-dct", quality=50, gop=12)
    data = codec.encode(frames, fps=25)
    frames2 = codec.decode(data)           # or decode(data, start=k) to begin at frame k

Parameters are declared with the image codecs' :class:`~fromscratch.codecs.base.Parameter` and
recorded in the container, so decoding needs nothing but the bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from ...backend import to_numpy
from ...bitstream import BitstreamError
from ..base import Parameter
from .container import check_video_shape, is_video, read_video_header, unpack_video

__all__ = [
    "DEFAULT_FPS",
    "VideoCodec",
    "as_video",
    "get_video_codec",
    "register_video",
    "video_codec_for_data",
    "video_codec_names",
]

DEFAULT_FPS = Fraction(25)


def as_video(frames) -> np.ndarray:
    """Check and normalise frames: uint8, shape (T, H, W) or (T, H, W, 3), C-contiguous."""
    array = to_numpy(frames)
    if array.dtype != np.uint8:
        raise ValueError(f"frames are uint8 arrays, got dtype {array.dtype}")
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    if not (array.ndim == 3 or (array.ndim == 4 and array.shape[3] == 3)):
        raise ValueError(f"frames have shape (T, H, W) or (T, H, W, 3), got {array.shape}")
    if array.size == 0:
        raise ValueError(f"no frames: shape {array.shape}")
    check_video_shape(array.shape[0], array.shape[1], array.shape[2],
                      1 if array.ndim == 3 else 3)
    return np.ascontiguousarray(array)


class VideoCodec(ABC):
    """Base class: parameters validated and recorded, the container written and read.

    Subclasses implement :meth:`encode_frames` (frames -> list of (type, payload)) and
    :meth:`decode_frames` (payloads -> frames).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    parameters: ClassVar[dict[str, Parameter]] = {}
    #: Parameter sets swept by RD curves, lowest rate first.
    settings: ClassVar[tuple[dict, ...]] = ({},)

    def __init__(self, **params: Any):
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            raise ValueError(f"video codec {self.name!r} has no parameter {unknown[0]!r} "
                             f"(known: {', '.join(self.parameters)})")
        self.params = {key: spec.validate(key, params.get(key, spec.default))
                       for key, spec in self.parameters.items()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    @abstractmethod
    def encode_frames(self, frames: np.ndarray) -> list[tuple[str, bytes]]:
        """(type "I"/"P", payload) for each frame of a checked video."""

    @abstractmethod
    def decode_frames(self, payloads: list[bytes], types: tuple[str, ...],
                      shape: tuple[int, ...]) -> np.ndarray:
        """Frames of ``shape`` (T', H, W[, 3]) from consecutive payloads starting at an I-frame."""

    def encode(self, frames, fps: float | Fraction = DEFAULT_FPS) -> bytes:
        """The container stream of ``frames`` at frame rate ``fps``."""
        from .container import pack_video

        frames = as_video(frames)
        return pack_video(self.name, frames.shape, Fraction(fps), self.params,
                          self.encode_frames(frames))

    def decode(self, data: bytes, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``start`` to ``stop`` (exclusive), decoding from the I-frame before ``start``."""
        header, payloads = unpack_video(data)
        if header.codec != self.name:
            raise BitstreamError(f"stream written by {header.codec!r}, not {self.name!r}")
        try:
            codec = type(self)(**header.params)
        except ValueError as exc:
            raise BitstreamError(f"invalid codec parameters in the header: {exc}") from None
        stop = header.n_frames if stop is None else stop
        if not 0 <= start < stop <= header.n_frames:
            raise ValueError(f"need 0 <= start < stop <= {header.n_frames}, got {start}, {stop}")
        first = header.key_frame_before(start)
        shape = (stop - first, *header.shape[1:])
        frames = codec.decode_frames(payloads[first:stop], header.frame_types[first:stop], shape)
        if frames.shape != shape or frames.dtype != np.uint8:
            raise BitstreamError(f"decoded {frames.dtype} {frames.shape}, expected {shape}")
        return frames[start - first :]


_REGISTRY: dict[str, type[VideoCodec]] = {}


def register_video(cls: type[VideoCodec]) -> type[VideoCodec]:
    """Class decorator: make a video codec available by its ``name``."""
    if _REGISTRY.get(cls.name, cls) is not cls:
        raise ValueError(f"video codec name {cls.name!r} is already taken")
    _REGISTRY[cls.name] = cls
    return cls


def video_codec_names() -> list[str]:
    """Names of the registered video codecs."""
    return sorted(_REGISTRY)


def get_video_codec(name: str, **params: Any) -> VideoCodec:
    """An instance of video codec ``name`` with the given parameters (validated)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown video codec {name!r}; available: {', '.join(_REGISTRY)}")
    return _REGISTRY[name](**params)


def video_codec_for_data(data: bytes) -> VideoCodec:
    """The registered codec that wrote ``data`` (BitstreamError if none)."""
    if not is_video(data):
        raise BitstreamError(
            f"not a fromscratch video stream (first bytes: {bytes(data[:8]).hex(' ') or 'none'})")
    header = read_video_header(data)
    if header.codec not in _REGISTRY:
        raise BitstreamError(f"stream written by unknown video codec {header.codec!r}")
    return _REGISTRY[header.codec]()
