"""YUV4MPEG2 (``.y4m``): raw video frames with a one-line text header, the format every tool reads.

A ``.y4m`` file is ``YUV4MPEG2 W176 H144 F30000:1001 Ip A1:1 C420jpeg\\n`` followed by one
``FRAME\\n`` line and the raw planes (Y, then Cb, then Cr, row by row) per frame. ffmpeg, x264,
libvpx and the MPEG reference encoders all read and write it, which makes it the simplest way to
exchange uncompressed video.

Samples are "studio range" BT.601 (Y in 16..235, Cb/Cr in 16..240) unless the header says
``XCOLORRANGE=FULL``. This module converts them to and from the RGB frames of the rest of the
package (via chapter 2's JFIF conversion, stretched to the studio range), supporting
``C420jpeg``/``C420``/``C420mpeg2``/``C420paldv`` (chroma halved both ways), ``C444`` and
``Cmono``.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from ...bitstream import BitstreamError
from ...data import load_frames
from ...transforms.colour import rgb_to_ycbcr, ycbcr_to_rgb
from ..jpeg.encoder import downsample
from ..jpeg.upsample import upsample
from .container import check_video_shape

__all__ = ["read_frames", "read_y4m", "write_y4m"]

_SIGNATURE = b"YUV4MPEG2"
_MAX_HEADER = 1024


def _to_full(ycbcr: np.ndarray) -> np.ndarray:
    """Studio-range YCbCr (float) to full range (JFIF)."""
    out = np.empty_like(ycbcr, dtype=np.float64)
    out[..., 0] = (ycbcr[..., 0] - 16.0) * (255.0 / 219.0)
    out[..., 1:] = (ycbcr[..., 1:] - 128.0) * (255.0 / 224.0) + 128.0
    return out


def _to_studio(ycbcr: np.ndarray) -> np.ndarray:
    out = np.empty_like(ycbcr, dtype=np.float64)
    out[..., 0] = ycbcr[..., 0] * (219.0 / 255.0) + 16.0
    out[..., 1:] = (ycbcr[..., 1:] - 128.0) * (224.0 / 255.0) + 128.0
    return out


def read_y4m(path: str | os.PathLike) -> tuple[np.ndarray, Fraction]:
    """Frames (T, H, W, 3) RGB uint8 (or (T, H, W) for ``Cmono``) and the frame rate.

    Raises :class:`BitstreamError` for a malformed or truncated file.
    """
    data = Path(path).read_bytes()
    end = data.find(b"\n", 0, _MAX_HEADER)
    if not data.startswith(_SIGNATURE) or end < 0:
        raise BitstreamError(f"{path} is not a YUV4MPEG2 file (no header line)")
    fields = data[len(_SIGNATURE) : end].split()
    width = height = 0
    fps = Fraction(25)
    colour = "420jpeg"
    full_range = False
    for item in fields:
        key, value = chr(item[0]), item[1:].decode("ascii", "replace")
        try:
            if key == "W":
                width = int(value)
            elif key == "H":
                height = int(value)
            elif key == "F":
                num, den = value.split(":")
                fps = Fraction(int(num), int(den))
            elif key == "C":
                colour = value
            elif key == "X" and value.upper() == "COLORRANGE=FULL":
                full_range = True
        except (ValueError, ZeroDivisionError):
            raise BitstreamError(f"bad y4m header field {item!r}") from None
    if colour.startswith("420"):
        cw, ch = (width + 1) // 2, (height + 1) // 2
    elif colour in ("444", "mono"):
        cw, ch = (width, height) if colour == "444" else (0, 0)
    else:
        raise BitstreamError(f"unsupported y4m colour space C{colour}")
    try:
        check_video_shape(1, height, width, 3)
    except ValueError as exc:
        raise BitstreamError(f"bad y4m frame size: {exc}") from None
    frame_bytes = width * height + 2 * cw * ch
    frames = []
    pos = end + 1
    while pos < len(data):
        line_end = data.find(b"\n", pos, pos + _MAX_HEADER)
        if not data.startswith(b"FRAME", pos) or line_end < 0:
            raise BitstreamError(f"y4m: expected a FRAME line at byte {pos}")
        pos = line_end + 1
        if pos + frame_bytes > len(data):
            raise BitstreamError(f"y4m: truncated frame {len(frames)} at byte {pos}")
        raw = np.frombuffer(data, np.uint8, frame_bytes, pos)
        pos += frame_bytes
        y = raw[: width * height].reshape(height, width)
        if colour == "mono":
            frames.append(y.copy())
            continue
        cb = raw[width * height : width * height + cw * ch].reshape(ch, cw)
        cr = raw[width * height + cw * ch :].reshape(ch, cw)
        if colour != "444":
            cb = upsample(cb.astype(np.int16), 2, 2)[:height, :width]
            cr = upsample(cr.astype(np.int16), 2, 2)[:height, :width]
        ycbcr = np.stack([y, cb, cr], axis=-1).astype(np.float64)
        frames.append(ycbcr_to_rgb(ycbcr if full_range else _to_full(ycbcr)))
    if not frames:
        raise BitstreamError(f"{path} holds no frames")
    return np.stack(frames), fps


def write_y4m(path: str | os.PathLike, frames: np.ndarray, fps: float | Fraction = 25,
              chroma: str = "420") -> None:
    """Write uint8 frames (T, H, W[, 3]) as studio-range ``C420jpeg`` (or ``C444``) y4m.

    Gray frames are written as ``Cmono``.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4):
        raise ValueError(f"frames must be uint8 (T, H, W[, 3]), got {frames.dtype} {frames.shape}")
    if chroma not in ("420", "444"):
        raise ValueError(f"chroma must be '420' or '444', got {chroma!r}")
    height, width = frames.shape[1:3]
    fps = Fraction(fps).limit_denominator(1 << 16)
    colour = "mono" if frames.ndim == 3 else ("420jpeg" if chroma == "420" else "444")
    parts = [f"YUV4MPEG2 W{width} H{height} F{fps.numerator}:{fps.denominator} Ip A1:1 "
             f"C{colour}\n".encode()]
    for frame in frames:
        parts.append(b"FRAME\n")
        if frame.ndim == 2:
            parts.append(frame.tobytes())
            continue
        studio = np.clip(np.rint(_to_studio(rgb_to_ycbcr(frame))), 0, 255).astype(np.uint8)
        planes = [studio[..., k] for k in range(3)]
        if chroma == "420":
            pad = ((0, height % 2), (0, width % 2))
            planes[1:] = [downsample(np.pad(p, pad, mode="edge"), 2, 2) for p in planes[1:]]
        parts += [np.ascontiguousarray(p).tobytes() for p in planes]
    Path(path).write_bytes(b"".join(parts))


def read_frames(path: str | os.PathLike) -> tuple[np.ndarray, Fraction]:
    """``(frames, fps)`` of a ``.y4m`` file or of a folder of image frames (``load_frames``)."""
    if Path(path).suffix.lower() == ".y4m":
        return read_y4m(path)
    return load_frames(path)
