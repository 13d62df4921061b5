"""Images in and out: the one loader every chapter, test and benchmark reads through.

Two image sets matter in this book:

* **Kodak** (24 photographs, 768 x 512) is the field's standard *test* set. Every rate-distortion
  figure is measured on it, and so nothing is ever trained on it.
* **train** (50 photographs from Wikimedia Commons) is where the learned codecs take their random
  training crops.

Neither ships inside the package. They are looked for, in this order:

1. the ``data`` argument (the CLI's ``--data`` option), a folder holding ``kodak/`` and ``train/``;
2. the environment variable ``FROMSCRATCH_DATA``, the same kind of folder;
3. ``../shared/images`` next to the repository root (where the project's machines keep them);
4. otherwise the small samples bundled in the repository's ``data/`` folder (two Kodak images
   at half size for evaluation, one public-domain NASA photograph for training), with a one-line
   notice, so that every notebook and test still runs on a bare clone.

Images are NumPy ``uint8`` arrays: (H, W, 3) for colour, (H, W) for grayscale.

Video clips (chapter 2b) are folders of PNG frames (``001.png``, ``002.png``, ...), named by
their folder (``carphone``, ``bikes``). :func:`load_video` looks for
a clip in this order: the ``data`` argument (a folder holding clips), the environment variable
``FROMSCRATCH_VIDEO`` (same), a ``video/`` folder beside ``FROMSCRATCH_DATA``'s folder,
``../shared/video`` next to the repository, and finally the repository's own ``data/video/``
(a 10-frame synthetic clip, ``pan``, made by ``benchmarks/make_video_sample.py``). A clip's frame
rate is read from a ``fps`` file in its folder (e.g. ``30000/1001``), else from
:data:`KNOWN_FRAME_RATES`, else 25.
"""

from __future__ import annotations

import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from ._files import default_file_mode
from .backend import make_rng, to_numpy

__all__ = [
    "BUNDLED_DIR",
    "find_data_dir",
    "find_video_dir",
    "kodak",
    "kodak_paths",
    "load_frames",
    "load_image",
    "load_video",
    "random_crops",
    "sample_image",
    "save_image",
    "train_images",
    "train_paths",
    "video_names",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The repository's own small images (used when the full sets are not found).
BUNDLED_DIR = REPO_ROOT / "data"
_IMAGE_SUFFIXES = (".png", ".ppm", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")
_noticed: set[str] = set()


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as uint8: (H, W, 3) for colour, (H, W) for grayscale.

    Palette, alpha and 16-bit images are converted to 8-bit RGB (alpha dropped) or gray.
    """
    with Image.open(path) as im:
        if im.mode in ("L", "RGB"):
            converted = im
        elif im.mode in ("1", "I;16", "I;16B", "I", "F", "LA"):
            converted = im.convert("L")
        else:
            converted = im.convert("RGB")
        return np.asarray(converted).copy()


def save_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 image (format from the file suffix, PNG for ``.png``) atomically.

    The image is written to a temporary file in the same folder and renamed over ``path``, so a
    crash never leaves a half-written file behind.
    """
    image = to_numpy(image)
    if image.dtype != np.uint8:
        raise ValueError(f"save_image takes uint8 images, got {image.dtype}")
    path = Path(path)
    pil_format = Image.registered_extensions().get(path.suffix.lower())
    if pil_format is None:
        raise ValueError(f"cannot tell an image format from the file name {path.name!r}")
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            Image.fromarray(image).save(handle, format=pil_format)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def find_data_dir(data: str | os.PathLike | None = None) -> Path | None:
    """The folder holding ``kodak/`` and ``train/`` (see the module docstring), or None."""
    if data is not None:
        candidate = Path(data).expanduser()
        if not candidate.is_dir():
            raise FileNotFoundError(f"data folder {candidate} does not exist")
        return candidate
    env = os.environ.get("FROMSCRATCH_DATA")
    if env:
        candidate = Path(env).expanduser()
        if not candidate.is_dir():
            raise FileNotFoundError(f"FROMSCRATCH_DATA={env} is not a folder")
        return candidate
    shared = REPO_ROOT.parent / "shared" / "images"
    return shared if shared.is_dir() else None


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)


def _paths(subset: str, data: str | os.PathLike | None, fallback: str) -> list[Path]:
    root = find_data_dir(data)
    if root is not None and (root / subset).is_dir():
        files = _image_files(root / subset)
        if files:
            return files
    if not (BUNDLED_DIR / fallback).is_dir():
        raise FileNotFoundError(
            f"no '{subset}' images: set FROMSCRATCH_DATA or --data to a folder with {subset}/ "
            f"(the bundled samples live in the repository's data/ folder, not found here)"
        )
    bundled = _image_files(BUNDLED_DIR / fallback)
    if subset not in _noticed:
        _noticed.add(subset)
        print(
            f"fromscratch: no '{subset}' images found (set FROMSCRATCH_DATA or --data); "
            f"using the {len(bundled)} bundled image(s) in {BUNDLED_DIR / fallback}",
            file=sys.stderr,
        )
    return bundled


def kodak_paths(data: str | os.PathLike | None = None) -> list[Path]:
    """Paths of the Kodak test images, sorted (the bundled samples when Kodak is absent)."""
    return _paths("kodak", data, fallback="samples")


def kodak(data: str | os.PathLike | None = None) -> list[np.ndarray]:
    """The Kodak test images (24 x (512, 768, 3) or (768, 512, 3)), sorted by file name.

    For evaluation only: never train on them.
    """
    return [load_image(p) for p in kodak_paths(data)]


def train_paths(data: str | os.PathLike | None = None) -> list[Path]:
    """Paths of the training photographs (the bundled training sample when absent)."""
    return _paths("train", data, fallback="train")


def train_images(data: str | os.PathLike | None = None) -> list[np.ndarray]:
    """The training photographs as uint8 RGB arrays."""
    return [load_image(p) for p in train_paths(data)]


def sample_image(data: str | os.PathLike | None = None) -> tuple[str, np.ndarray]:
    """``(name, image)`` of one test image: kodim23 (parrots) when Kodak is present."""
    paths = kodak_paths(data)
    preferred = [p for p in paths if p.stem.startswith("kodim23")]
    path = (preferred or paths)[0]
    return path.stem, load_image(path)


def random_crops(
    size: int,
    n: int,
    rng: int | np.random.Generator | None = None,
    images: list[np.ndarray] | None = None,
    data: str | os.PathLike | None = None,
) -> np.ndarray:
    """``n`` random ``size`` x ``size`` RGB crops of the training images, uint8 (n, size, size, 3).

    Each crop picks an image uniformly, a position uniformly, and a horizontal flip with
    probability 1/2 (a free doubling of the data that keeps photographs plausible).

    Parameters
    ----------
    size : int
        Side of the square crops; every image must be at least this large.
    n : int
        Number of crops.
    rng : int or numpy.random.Generator, optional
        Seed or generator, so that a training run can be repeated exactly.
    images : list of ndarray, optional
        Images to crop from (default: :func:`train_images`, loaded once per call).
    """
    if size < 1 or n < 0:
        raise ValueError(f"need size >= 1 and n >= 0, got size={size}, n={n}")
    rng = make_rng(rng)
    if images is None:
        images = train_images(data)
    colour = [im for im in images if im.ndim == 3 and min(im.shape[:2]) >= size]
    if not colour:
        raise ValueError(f"no RGB training image is at least {size} x {size}")
    crops = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        image = colour[rng.integers(len(colour))]
        top = rng.integers(image.shape[0] - size + 1)
        left = rng.integers(image.shape[1] - size + 1)
        crop = image[top : top + size, left : left + size]
        crops[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return crops


# --------------------------------------------------------------------------------------------
# Video clips
# --------------------------------------------------------------------------------------------
#: Frame rates of the project's clips (their folders carry no rate of their own).
KNOWN_FRAME_RATES = {"carphone": Fraction(30000, 1001), "bikes": Fraction(25)}


def find_video_dir(data: str | os.PathLike | None = None) -> Path:
    """The folder holding video clips (see the module docstring); the bundled one last."""
    if data is not None:
        candidate = Path(data).expanduser()
        if not candidate.is_dir():
            raise FileNotFoundError(f"video folder {candidate} does not exist")
        return candidate
    env = os.environ.get("FROMSCRATCH_VIDEO")
    if env:
        candidate = Path(env).expanduser()
        if not candidate.is_dir():
            raise FileNotFoundError(f"FROMSCRATCH_VIDEO={env} is not a folder")
        return candidate
    images = os.environ.get("FROMSCRATCH_DATA")
    for candidate in ([Path(images).expanduser().parent / "video"] if images else []) + [
            REPO_ROOT.parent / "shared" / "video"]:
        if candidate.is_dir():
            return candidate
    return BUNDLED_DIR / "video"


def _clips(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    clips = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and _image_files(entry):
            clips[entry.stem] = entry
    return clips


def video_names(data: str | os.PathLike | None = None) -> list[str]:
    """Names of the clips found (the bundled ``pan`` when no other folder is there)."""
    return list(_clips(find_video_dir(data)))


def load_frames(path: str | os.PathLike) -> tuple[np.ndarray, Fraction]:
    """``(frames, fps)`` of a folder of image frames (sorted by name).

    Frames are uint8 (T, H, W, 3) (or (T, H, W) if all are gray); every frame must have the same
    size. The rate comes from a ``fps`` file in the folder, the clip's known rate, or 25. (A
    ``.y4m`` file holds YCbCr planes, which need chapter 2's colour conversion and chroma
    resampling: ``fromscratch.codecs.video.read_frames`` reads both kinds.)
    """
    path = Path(path)
    files = _image_files(path) if path.is_dir() else []
    if not files:
        raise FileNotFoundError(f"{path} is not a folder of image frames")
    frames = [load_image(f) for f in files]
    if any(f.ndim == 3 for f in frames):
        frames = [np.repeat(f[:, :, None], 3, axis=2) if f.ndim == 2 else f for f in frames]
    if len({f.shape for f in frames}) != 1:
        raise ValueError(f"the frames in {path} do not all have the same size")
    fps = KNOWN_FRAME_RATES.get(path.name, Fraction(25))
    if (path / "fps").is_file():
        fps = Fraction((path / "fps").read_text().strip())
    return np.stack(frames), fps


def load_video(name: str, data: str | os.PathLike | None = None,
               max_frames: int | None = None) -> tuple[np.ndarray, Fraction]:
    """``(frames, fps)`` of the clip ``name`` (e.g. ``"carphone"``), the first ``max_frames``.

    When the clip is not found, the bundled clip ``pan`` is returned with a one-line notice (so
    notebooks and tests run on a bare clone).
    """
    clips = _clips(find_video_dir(data))
    if name not in clips:
        bundled = _clips(BUNDLED_DIR / "video")
        if not bundled:
            raise FileNotFoundError(f"no video clip {name!r} and no bundled clip in data/video")
        if "video:" + name not in _noticed:
            _noticed.add("video:" + name)
            print(f"fromscratch: no video clip {name!r} found (set FROMSCRATCH_VIDEO or --data); "
                  f"using the bundled clip {next(iter(bundled))!r}", file=sys.stderr)
        clips = {name: next(iter(bundled.values()))}
    frames, fps = load_frames(clips[name])
    return (frames[:max_frames] if max_frames else frames), fps
