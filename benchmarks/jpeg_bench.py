"""Chapter 2 benchmark: our JPEG beside Pillow's (libjpeg-turbo) on Kodak, in one run.

    python benchmarks/jpeg_bench.py [--images 24] [--repeat 3] [--data DIR]

1. Speed: encode and decode megapixels/s at quality 75, 4:2:0, ours vs Pillow (best of --repeat
   per image). Target from the issue: >= 0.2x libjpeg-turbo (SIMD C).
2. Interoperability and size: at qualities 25/50/75/90, 4:2:0 and 4:4:4, standard tables: our
   file size / Pillow's (target within 1%), PSNR difference (target within 0.1 dB), and our
   optimize=True size / Pillow's optimize=True (target <= 1); our decoder on Pillow's files,
   PSNR against Pillow's own decoding (target >= 45 dB).
3. RD curves (bpp vs PSNR and MS-SSIM) of ours and Pillow's on the images, BD-rate between them.
Writes benchmarks/results/jpeg_bench.{json,png}.
"""

import argparse
import io
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
from PIL import Image

from fromscratch import bench, metrics
from fromscratch.codecs import get_codec
from fromscratch.data import kodak_paths, load_image

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def pillow_encode(image, quality, subsampling="4:2:0", optimize=False) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality,
                                subsampling=SUBSAMPLING[subsampling], optimize=optimize)
    return buffer.getvalue()


def pillow_decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def speed(images, repeat) -> dict:
    ours = get_codec("jpeg", quality=75)
    ours.decode(ours.encode(images[0][1][:64, :64]))  # compile the kernels before timing
    totals = {"ours_encode": 0.0, "ours_decode": 0.0, "pillow_encode": 0.0, "pillow_decode": 0.0}
    pixels = 0
    for _, image in images:
        data = ours.encode(image)
        reference = pillow_encode(image, 75)
        totals["ours_encode"] += best_of(lambda image=image: ours.encode(image), repeat)
        totals["ours_decode"] += best_of(lambda data=data: ours.decode(data), repeat)
        totals["pillow_encode"] += best_of(lambda image=image: pillow_encode(image, 75), repeat)
        totals["pillow_decode"] += best_of(lambda r=reference: pillow_decode(r), repeat)
        pixels += image.shape[0] * image.shape[1]
    rates = {key: pixels / seconds / 1e6 for key, seconds in totals.items()}
    print(f"speed, quality 75 4:2:0, {len(images)} images (megapixels/s):")
    for what in ("encode", "decode"):
        ratio = rates[f"ours_{what}"] / rates[f"pillow_{what}"]
        print(f"  {what}: ours {rates[f'ours_{what}']:7.1f}   Pillow {rates[f'pillow_{what}']:7.1f}"
              f"   ratio {ratio:.3f}  (target >= 0.2)")
    return rates


def interop(images) -> list[dict]:
    rows = []
    print("\nquality subsampling   size ours/Pillow  PSNR ours-Pillow (dB)  optimize ours/Pillow"
          "  our decoder vs Pillow's, min PSNR")
    for subsampling in ("4:2:0", "4:4:4"):
        for quality in (25, 50, 75, 90):
            size_ratio, psnr_gap, optimized_ratio, decoder_psnr = [], [], [], []
            for _, image in images:
                ours = get_codec("jpeg", quality=quality, subsampling=subsampling)
                ours_opt = get_codec("jpeg", quality=quality, subsampling=subsampling,
                                     optimize=True)
                data, reference = ours.encode(image), pillow_encode(image, quality, subsampling)
                size_ratio.append(len(data) / len(reference))
                psnr_gap.append(metrics.psnr(image, pillow_decode(data))
                                - metrics.psnr(image, pillow_decode(reference)))
                optimized_ratio.append(len(ours_opt.encode(image))
                                       / len(pillow_encode(image, quality, subsampling, True)))
                decoder_psnr.append(metrics.psnr(pillow_decode(reference), ours.decode(reference)))
            row = {"quality": quality, "subsampling": subsampling,
                   "size_ratio_mean": float(np.mean(size_ratio)),
                   "size_ratio_max": float(np.max(size_ratio)),
                   "psnr_gap_mean": float(np.mean(psnr_gap)),
                   "psnr_gap_worst": float(np.min(psnr_gap)),
                   "optimize_ratio_max": float(np.max(optimized_ratio)),
                   "decoder_psnr_min": float(np.min(decoder_psnr))}
            rows.append(row)
            print(f"{quality:7d} {subsampling:11s}   {row['size_ratio_mean']:.4f} (max "
                  f"{row['size_ratio_max']:.4f})  {row['psnr_gap_mean']:+.3f} (worst "
                  f"{row['psnr_gap_worst']:+.3f})      max {row['optimize_ratio_max']:.4f}"
                  f"          {row['decoder_psnr_min']:.2f}")
    return rows


def rd(images, out: Path) -> list[dict]:
    rows = bench.rd_curve("jpeg", images) + bench.rd_curve("pillow-jpeg", images)
    rows += bench.rd_curve("jpeg", images, [{"quality": s["quality"], "optimize": True}
                                            for s in get_codec("jpeg").settings])
    for row in rows:
        if "optimize=True" in row["setting"]:
            row["codec"] = "jpeg optimize"
    summary = bench.summarize(rows)
    print()
    print(bench.format_table(summary))
    curves = {name: [s for s in summary if s["codec"] == name]
              for name in ("jpeg", "jpeg optimize", "pillow-jpeg")}
    for name in ("jpeg", "jpeg optimize"):
        anchor, test = curves["pillow-jpeg"], curves[name]
        args = ([s["bpp"] for s in anchor], [s["psnr"] for s in anchor],
                [s["bpp"] for s in test], [s["psnr"] for s in test])
        print(f"BD-rate of {name} against pillow-jpeg: {metrics.bd_rate(*args):+.2f} %")
    bench.save_rd_figure(summary, out / "jpeg_bench.png", f"on {len(images)} Kodak images")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = [(p.stem, load_image(p)) for p in kodak_paths(args.data)[: args.images]]
    results = {"speed": speed(images, args.repeat), "interop": interop(images),
               "rd": rd(images, out)}
    (out / "jpeg_bench.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"\nwrote {out / 'jpeg_bench.json'} and {out / 'jpeg_bench.png'}")


if __name__ == "__main__":
    main()
