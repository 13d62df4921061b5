"""Chapter 5 on Kodak: ``gan2017`` beside its ablation, ``balle2017``, JPEG, WebP, JPEG 2000.

    python benchmarks/gan2017_bench.py [--images N] [--ablation FILE ...] [--data DIR]

One run codes every Kodak image (all 24 by default) with

* ``gan2017`` at every shipped quality (``data/weights/gan2017_q*.npz``);
* the ablation, when ``--ablation`` names weight files: the same fine-tuning run with
  ``--beta 0`` (no adversary), coded with the same class, so what differs is the adversary only;
* ``balle2017`` at its shipped qualities, Pillow JPEG at qualities 1-95 (so its curve reaches
  the low rates), WebP and JPEG 2000;

and reports per codec and setting: mean bpp, PSNR, MS-SSIM, MS-SSIM in dB
(``-10 log10(1 - m)``), the detail ratio (``metrics.detail_ratio``: 1.0 = as much fine texture as
the original) and encode/decode time per image on this machine. Then the seed's claims, as bytes
ratios at equal MS-SSIM: per gan2017 point, the reference's rate interpolated (linearly in
log-rate) at the same MS-SSIM, divided by gan2017's rate; and BD-rates (MS-SSIM in dB, and PSNR)
wherever both curves have two points or more. Rippel & Bourdev's published MS-SSIM curve
(``../shared/reference``) is drawn beside ours, labelled as published.

Writes ``benchmarks/results/gan2017_bench.{csv,png}`` and ``gan2017_claims.csv``.
"""

import argparse
import math
import shutil
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np

from fromscratch import bench, metrics
from fromscratch.codecs import get_codec
from fromscratch.codecs.balle2017 import codec as balle2017
from fromscratch.data import kodak_paths, load_image

# Quality 2 is left out: Pillow's tables at 1 and 2 clip to the same values (identical bytes).
JPEG_QUALITIES = (1, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 60, 75, 90, 95)
REFERENCES = {"pillow-jpeg": [{"quality": q} for q in JPEG_QUALITIES],
              "pillow-webp": None, "pillow-jpeg2000": None}
#: The seed's claims: bytes of the reference over Rippel & Bourdev's at equal MS-SSIM.
CLAIMED = {"pillow-jpeg": 2.5, "pillow-jpeg2000": 2.5, "pillow-webp": 2.0, "hevc/bpg": 1.7}
PUBLISHED = ("rippel2017 (paper)",)
ABLATION = "gan2017 without adversary"


def measure_all(label: str, codec_name: str, settings, images) -> list[dict]:
    """Rows of ``bench.measure`` with the detail ratio added, labelled ``label``."""
    rows = []
    for params in settings:
        codec = get_codec(codec_name, **params)
        bench.warm_up(codec, images[0][1])
        for name, image in images:
            row, decoded = bench.measure(codec, name, image, bench.setting_label(params))
            row["codec"] = label
            row["detail"] = metrics.detail_ratio(decoded, image)
            rows.append(row)
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """``bench.summarize`` (MS-SSIM in dB included) plus the mean detail ratio per (codec,
    setting)."""
    summary = bench.summarize(rows)
    for entry in summary:
        group = [r for r in rows if (r["codec"], r["setting"]) == (entry["codec"],
                                                                    entry["setting"])]
        entry["detail"] = float(np.mean([r["detail"] for r in group]))
    return summary


def rate_at(summary, codec: str, metric: str, value: float) -> float:
    """The codec's rate at ``metric == value``, linear in log-rate between its two neighbours
    (NaN outside its curve's range)."""
    bpps, values = bench.curve(summary, codec, metric)
    order = np.argsort(values)
    values, log_bpps = np.asarray(values)[order], np.log(np.asarray(bpps)[order])
    if not values[0] <= value <= values[-1]:
        return math.nan
    return float(np.exp(np.interp(value, values, log_bpps)))


def claims(summary, tested: str) -> list[dict]:
    """Bytes ratio at equal MS-SSIM against each reference, per point of ``tested``."""
    out = []
    for point in (row for row in summary if row["codec"] == tested):
        for reference, claimed in CLAIMED.items():
            if not any(row["codec"] == reference for row in summary):
                out.append({"setting": point["setting"], "reference": reference,
                            "claimed": claimed, "measured": "not installed"})
                continue
            ratio = rate_at(summary, reference, "ms_ssim_db", point["ms_ssim_db"]) / point["bpp"]
            out.append({"setting": point["setting"], "reference": reference,
                        "claimed": claimed, "measured": round(ratio, 3),
                        "reproduced": bool(ratio >= claimed) if math.isfinite(ratio) else "n/a"})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--ablation", nargs="*", default=[],
                        help="weight files of the same fine-tuning with --beta 0")
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    qualities = balle2017.available_qualities("gan2017")
    if not qualities:
        raise SystemExit("no gan2017 weights: python -m fromscratch train gan2017 --help")
    images = [(p.stem, load_image(p)) for p in kodak_paths(args.data)[: args.images]]
    rows = measure_all("gan2017", "gan2017", [{"quality": q} for q in qualities], images)
    if args.ablation:
        shipped, folder = balle2017.WEIGHTS_DIR, Path(tempfile.mkdtemp(prefix="gan2017-ablation-"))
        for quality, path in enumerate(args.ablation, start=1):
            shutil.copy(path, folder / f"gan2017_q{quality}.npz")
        balle2017.WEIGHTS_DIR = folder
        balle2017.load_model.cache_clear()
        rows += measure_all(ABLATION, "gan2017",
                            [{"quality": q} for q in range(1, len(args.ablation) + 1)], images)
        balle2017.WEIGHTS_DIR = shipped
    rows += measure_all("balle2017", "balle2017",
                        [{"quality": q} for q in balle2017.available_qualities()], images)
    for codec, settings in REFERENCES.items():
        rows += measure_all(codec, codec, settings or get_codec(codec).settings, images)
    summary = summarize(rows)

    print(f"{len(images)} Kodak image(s)")
    print(bench.format_table(summary))
    print("\ndetail ratio (1.0 = the original's fine texture) and MS-SSIM dB:")
    for entry in summary:
        print(f"  {entry['codec']:26s} {entry['setting']:12s} bpp {entry['bpp']:.3f}  "
              f"detail {entry['detail']:.3f}  MS-SSIM {entry['ms_ssim_db']:.2f} dB")

    claim_rows = claims(summary, "gan2017")
    print("\nbytes of the reference / bytes of gan2017 at equal MS-SSIM (claimed by the seed):")
    for row in claim_rows:
        print(f"  {row['setting']:12s} {row['reference']:16s} claimed {row['claimed']}x  "
              f"measured {row['measured']}  reproduced: {row.get('reproduced', 'n/a')}")

    tested = [c for c in ("gan2017", ABLATION, "balle2017") if any(r["codec"] == c
                                                                 for r in summary)]
    for metric, unit in (("ms_ssim_db", "dB"), ("psnr", "dB")):
        print(f"\nBD-rate / BD-{metric} against Pillow JPEG (negative = fewer bits):")
        for codec, result in bench.bd_against(summary, "pillow-jpeg", tested, metric).items():
            if isinstance(result, str):
                print(f"  {codec:26s} not defined: {result}")
            else:
                print(f"  {codec:26s} {result[0]:+7.1f} %   {result[1]:+6.2f} {unit}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bench.save_csv(summary, out / "gan2017_bench.csv")
    bench.save_csv(claim_rows, out / "gan2017_claims.csv")
    bench.save_rd_figure(summary, out / "gan2017_bench.png", f"on {len(images)} Kodak images",
                         published=PUBLISHED, max_bpp=1.0)
    print(f"wrote {out / 'gan2017_bench.csv'}, gan2017_claims.csv, gan2017_bench.png")


if __name__ == "__main__":
    main()
