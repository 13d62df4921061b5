"""Chapter 3 benchmark: the 1987 bottleneck MLP beside the KLT, DCT zonal coding and JPEG, on Kodak.

    python benchmarks/mlp1987_bench.py [--images 24] [--data DIR] [--out DIR]

1. RD curves (mean bpp, PSNR, MS-SSIM over the images) of ``mlp1987``, ``klt`` and ``dct-zonal``
   at the same (k, bits) settings, of our ``jpeg`` and of ``pillow-jpeg`` (libjpeg-turbo), all
   measured in this one run.
2. BD-rate (PSNR, pchip) of each against pillow-jpeg over the PSNR range both curves cover (said
   so when they do not overlap), and of mlp1987 and dct-zonal against the KLT.
3. Baldi & Hornik on the shipped networks: cosines of the principal angles between each sigmoid
   network's encoder rows / decoder columns and the KLT's top-k eigenvectors.

Writes benchmarks/results/mlp1987_bench.{csv,json,png} (per-image rows in mlp1987_bench_rows.csv).
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fromscratch import bench, metrics
from fromscratch.codecs.patch import (
    MLP_K_CHOICES,
    Mlp1987,
    klt_tables,
    mlp_weights,
    subspace_alignment,
)
from fromscratch.data import kodak_paths, load_image

PATCH_CODECS = ("mlp1987", "klt", "dct-zonal")
JPEGS = ("jpeg", "pillow-jpeg")


def bd_rate_or_reason(anchor: list[dict], test: list[dict]) -> str:
    """BD-rate (PSNR) of ``test`` against ``anchor`` as text, or why there is none."""
    args = ([s["bpp"] for s in anchor], [s["psnr"] for s in anchor],
            [s["bpp"] for s in test], [s["psnr"] for s in test])
    low = max(min(args[1]), min(args[3]))
    high = min(max(args[1]), max(args[3]))
    try:
        return f"{metrics.bd_rate(*args):+7.1f} %  (over PSNR {low:.1f}..{high:.1f} dB)"
    except ValueError as exc:
        return f"n/a: {exc}"


def subspace_report() -> dict:
    eigenvectors = klt_tables()["eigenvectors"]
    report = {}
    print("\nBaldi & Hornik: cosines of the principal angles to the KLT's top-k eigenvectors")
    for k in MLP_K_CHOICES:
        w, _ = mlp_weights(k)
        encoder = subspace_alignment(w["W1"], eigenvectors[:, :k])
        decoder = subspace_alignment(w["W2"].T, eigenvectors[:, :k])
        report[k] = {"encoder": encoder.tolist(), "decoder": decoder.tolist()}
        print(f"  k={k:2d}  encoder rows: mean {encoder.mean():.3f} min {encoder.min():.3f}   "
              f"decoder columns: mean {decoder.mean():.3f} min {decoder.min():.3f}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = [(p.stem, load_image(p)) for p in kodak_paths(args.data)[: args.images]]

    rows = []
    for name in PATCH_CODECS:
        rows += bench.rd_curve(name, images, Mlp1987.settings)
    for name in JPEGS:
        rows += bench.rd_curve(name, images)
    summary = bench.summarize(rows)
    print(f"{len(images)} Kodak images, settings k,bits = "
          + ", ".join(f"({s['k']},{s['bits']})" for s in Mlp1987.settings))
    print(bench.format_table(summary))
    curves = {name: [s for s in summary if s["codec"] == name] for name in PATCH_CODECS + JPEGS}

    bd = {}
    print("\nBD-rate (PSNR) against pillow-jpeg; negative = fewer bits for the same PSNR")
    for name in (*PATCH_CODECS, "jpeg"):
        bd[f"{name} vs pillow-jpeg"] = bd_rate_or_reason(curves["pillow-jpeg"], curves[name])
        print(f"  {name:10s} {bd[f'{name} vs pillow-jpeg']}")
    print("BD-rate (PSNR) against klt")
    for name in ("mlp1987", "dct-zonal"):
        bd[f"{name} vs klt"] = bd_rate_or_reason(curves["klt"], curves[name])
        print(f"  {name:10s} {bd[f'{name} vs klt']}")
    subspaces = subspace_report()

    bench.save_csv(rows, out / "mlp1987_bench_rows.csv")
    bench.save_csv(summary, out / "mlp1987_bench.csv")
    (out / "mlp1987_bench.json").write_text(json.dumps(
        {"images": len(images), "summary": summary, "bd_rate": bd, "subspace_cosines": subspaces},
        indent=1, default=str))
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, metric in zip(axes, ("psnr", "ms_ssim"), strict=True):
        bench.plot_rd(summary, metric, ax=ax,
                      title=f"{metric.upper()}, {len(images)} Kodak images (chapter 3)")
        ax.set_xlim(0, 2.6)
    axes[0].set_ylim(20, 40)
    axes[1].set_ylim(float(np.nanmin([s["ms_ssim"] for s in summary])) - 0.01, 1.0)
    fig.tight_layout()
    fig.savefig(out / "mlp1987_bench.png", dpi=110)
    print(f"\nwrote {out / 'mlp1987_bench.csv'}, .json, _rows.csv and .png")


if __name__ == "__main__":
    main()
