"""Chapter 3 benchmark: lossless coding of Kodak, ``mlp-predictive`` beside its peers, in one run.

    python benchmarks/lossless_bench.py [--images 24] [--data DIR]

Every codec codes every image, and each decoded image is checked to be identical to the input.
Codecs: ``mlp-predictive`` with its four predictors (mlp with the per-image output layer, the
shipped mlp as is, per-image least squares, MED, left), all through the same context-modelled
range coder; the ``huffman`` codec (MED + one Huffman code per channel, chapter 1); Pillow's PNG
(zlib level 9, as the ``pillow-png`` codec writes it); WebP lossless (``pillow-webp``,
``lossless=True``, default effort); JPEG-LS (CharLS through ``imagecodecs``, a benchmark-only
dependency: skipped with a message when missing).

Reports mean bits per RGB pixel (8 bytes / (H W)) and mean encode/decode seconds per image
(after one untimed warm-up, so Numba compilation is not counted). Writes
benchmarks/results/lossless.csv (one row per codec and image) and prints the summary table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fromscratch import bench
from fromscratch.codecs import get_codec
from fromscratch.data import kodak_paths, load_image

RESULTS = Path(__file__).resolve().parent / "results"


class _JpegLs:
    """JPEG-LS (lossless, CharLS via imagecodecs) with the codec interface."""

    name = "jpeg-ls"

    def __init__(self, imagecodecs):
        self._codecs = imagecodecs

    def encode(self, image: np.ndarray) -> bytes:
        return bytes(self._codecs.jpegls_encode(image))

    def decode(self, data: bytes) -> np.ndarray:
        return np.asarray(self._codecs.jpegls_decode(data))


def contenders() -> list[tuple[str, object]]:
    entries = [
        ("mlp-predictive mlp", get_codec("mlp-predictive", predictor="mlp")),
        ("mlp-predictive mlp adapt=False", get_codec("mlp-predictive", predictor="mlp",
                                                     adapt=False)),
        ("mlp-predictive ls", get_codec("mlp-predictive", predictor="ls")),
        ("mlp-predictive med", get_codec("mlp-predictive", predictor="med")),
        ("mlp-predictive left", get_codec("mlp-predictive", predictor="left")),
        ("huffman med", get_codec("huffman", predictor="med")),
        ("pillow-png", get_codec("pillow-png")),
        ("pillow-webp lossless", get_codec("pillow-webp", lossless=True)),
    ]
    try:
        import imagecodecs

        if imagecodecs.JPEGLS.available:
            entries.append(("jpeg-ls (CharLS)", _JpegLs(imagecodecs)))
        else:
            print("imagecodecs has no JPEG-LS codec: skipping JPEG-LS")
    except ImportError:
        print("imagecodecs is not installed (pip install imagecodecs): skipping JPEG-LS")
    return entries


def measure(label: str, codec, name: str, image: np.ndarray) -> dict:
    start = time.perf_counter()
    data = codec.encode(image)
    encoded = time.perf_counter()
    decoded = codec.decode(data)
    done = time.perf_counter()
    if decoded.shape != image.shape or not np.array_equal(decoded, image):
        raise RuntimeError(f"{label} is not lossless on {name}")
    return {"codec": label, "image": name, "bytes": len(data),
            "bpp": 8 * len(data) / (image.shape[0] * image.shape[1]),
            "enc_s": encoded - start, "dec_s": done - encoded}


def summarize(rows: list[dict]) -> list[dict]:
    summary = []
    for label in dict.fromkeys(row["codec"] for row in rows):
        mine = [row for row in rows if row["codec"] == label]
        summary.append({"codec": label, "images": len(mine),
                        **{key: float(np.mean([row[key] for row in mine]))
                           for key in ("bpp", "enc_s", "dec_s")}})
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--data", default=None, help="folder with kodak/ (see fromscratch.data)")
    args = parser.parse_args(argv)
    paths = sorted(kodak_paths(args.data))[: args.images]
    images = [(p.stem, load_image(p)) for p in paths]
    entries = contenders()
    for _, codec in entries:  # compile the Numba kernels before anything is timed
        codec.decode(codec.encode(images[0][1][:64, :64]))
    rows = []
    for name, image in images:
        for label, codec in entries:
            rows.append(measure(label, codec, name, image))
        print(f"{name}: " + ", ".join(f"{r['codec']} {r['bpp']:.3f}" for r in rows[-len(entries):]),
              flush=True)
    RESULTS.mkdir(exist_ok=True)
    bench.save_csv(rows, RESULTS / "lossless.csv")
    summary = summarize(rows)
    by_label = {row["codec"]: row["bpp"] for row in summary}
    print(f"\n{len(images)} Kodak images, lossless, mean over images (all decoded exactly):")
    print(f"{'codec':34s} {'bpp':>7s} {'vs PNG':>7s} {'enc s':>7s} {'dec s':>7s}")
    for row in summary:
        ratio = row["bpp"] / by_label["pillow-png"]
        print(f"{row['codec']:34s} {row['bpp']:7.3f} {ratio:7.3f} {row['enc_s']:7.3f} "
              f"{row['dec_s']:7.3f}")
    if "jpeg-ls (CharLS)" in by_label:
        gap = by_label["mlp-predictive mlp"] - by_label["jpeg-ls (CharLS)"]
        print(f"mlp-predictive mlp - JPEG-LS: {gap:+.3f} bpp "
              f"({100 * gap / by_label['jpeg-ls (CharLS)']:+.1f}%)")
    print(f"wrote {RESULTS / 'lossless.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
