"""Chapter 5 on Kodak: ``gan2017`` beside its ablation, ``balle2017``, JPEG, WebP, JPEG 2000, HEVC.

    python benchmarks/gan2017_bench.py [--images N] [--ablation FILE ...] [--no-heif]
                                       [--backend numpy|cupy] [--data DIR]

One run codes every Kodak image (all 24 by default) with

* ``gan2017`` at every shipped quality (``data/weights/gan2017_q*.npz``);
* the ablation: the same fine-tuning with ``--beta 0`` (no adversary), coded with the same class
  (``Gan2017Codec.from_weights``), so what differs is the adversary only. Its files are
  ``data/weights/gan2017_ablation_q<quality>.npz``, found automatically; ``--ablation FILE ...``
  names other files instead (numbered 1, 2, ... in the order given);
* ``balle2017`` at its shipped qualities, Pillow JPEG at qualities 1-95 (so its curve reaches the
  low rates), WebP, JPEG 2000 (compression ratios down to 400:1) and - when the optional
  ``pillow-heif`` is installed - HEVC intra (HEIF, x265, 4:4:4 like the BPG of the papers);

and reports per codec and setting: mean bpp, PSNR, MS-SSIM, MS-SSIM in dB
(``-10 log10(1 - m)``), the detail ratio (``metrics.detail_ratio``: 1.0 = as much fine texture as
the original) and encode/decode time per image on this machine (``--backend cupy`` runs the
learned codecs on a GPU). Then

* the seed's claims as a table: per reference, the byte ratio at equal MS-SSIM of every gan2017
  point (``bench.equal_quality_ratio``: the reference's rate interpolated linearly in log-rate at
  the same MS-SSIM, over gan2017's rate) and their geometric mean beside the claimed 2.5x
  (JPEG), 2.5x (JPEG 2000), 2x (WebP) and 1.7x (HEVC/BPG), with chapter 07's verdict on that mean
  (``closing.ratio_verdict``: reproduced, partly, not, not measurable) or "not installed";
* BD-rates in MS-SSIM (dB) and in PSNR of gan2017 against Pillow JPEG, against ``balle2017`` and
  against the ablation (and of those two against JPEG), wherever both curves have enough points.

Rippel & Bourdev's published MS-SSIM curve (``../shared/reference``) is drawn beside ours,
labelled as published. Writes ``benchmarks/results/gan2017_bench.{csv,png}`` and
``gan2017_claims.csv``.
"""

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from fromscratch import backend, bench, closing
from fromscratch.codecs import balle2017, codec_names, get_codec
from fromscratch.codecs.gan2017 import Gan2017Codec
from fromscratch.data import kodak_paths, load_image

REFERENCES = {
    "pillow-jpeg": tuple({"quality": q} for q in closing.JPEG_LOW_QUALITIES),
    "pillow-webp": tuple({"quality": q} for q in (0, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)),
    "pillow-jpeg2000": tuple({"ratio": r} for r in (400, 300, 200, 150, 120, 80, 50, 32, 20, 12)),
}
HEIF_SETTINGS = tuple({"quality": q, "chroma": "444"} for q in (2, 5, 10, 18, 26, 34, 42))
PUBLISHED = ("rippel2017 (paper)",)
ABLATION = "gan2017 without adversary"
ABLATION_PREFIX = "gan2017_ablation_q"


def ablation_files(explicit) -> dict[int, Path]:
    """``{quality: path}`` of the ablation models: ``explicit`` files numbered 1, 2, ... in the
    order given, else the shipped ``gan2017_ablation_q<quality>.npz``."""
    if explicit:
        return {quality: Path(path) for quality, path in enumerate(explicit, start=1)}
    folder = balle2017.weights_path(1).parent
    found = {}
    for path in folder.glob(f"{ABLATION_PREFIX}*.npz"):
        number = path.stem.removeprefix(ABLATION_PREFIX)
        if number.isdigit():
            found[int(number)] = path
    return dict(sorted(found.items()))


def claims(summary, tested: str = "gan2017") -> list[dict]:
    """One row per reference: the claimed ratio, the measured one per tested point and their
    geometric mean, chapter 07's verdict on that mean."""
    rows = []
    for reference, claimed in closing.CLAIMED_RATIOS.items():
        row = {"reference": reference, "claimed": claimed}
        if not any(entry["codec"] == reference for entry in summary):
            rows.append({**row, "measured": "", "reproduced": "not installed"})
            continue
        ratios = bench.equal_quality_ratio(summary, tested, reference, "ms_ssim_db")
        measured = "; ".join(f"{setting}: {ratio:.2f}x" if math.isfinite(ratio)
                             else f"{setting}: outside its curve" for setting, ratio in ratios)
        mean = closing.geometric_mean_ratio([r for _, r in ratios])
        rows.append({**row, "measured": measured, "geometric_mean": round(mean, 3),
                     "reproduced": closing.ratio_verdict(mean, claimed)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--ablation", nargs="*", default=[],
                        help="weight files of the same fine-tuning with --beta 0, lowest rate "
                             "first (default: data/weights/gan2017_ablation_q*.npz)")
    parser.add_argument("--no-heif", action="store_true", help="leave HEVC out even if installed")
    parser.add_argument("--backend", default="numpy", choices=("numpy", "cupy"),
                        help="where the learned codecs run")
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    qualities = balle2017.available_qualities("gan2017")
    if not qualities:
        raise SystemExit("no gan2017 weights: python -m fromscratch train gan2017 --help")
    backend.use(args.backend)
    images = [(p.stem, load_image(p)) for p in kodak_paths(args.data)[: args.images]]
    rows = bench.measure_codecs("gan2017", [(f"quality={q}", get_codec("gan2017", quality=q))
                                            for q in qualities], images, detail=True)
    ablations = ablation_files(args.ablation)
    if ablations:
        rows += bench.measure_codecs(ABLATION, [(f"quality={q}", Gan2017Codec.from_weights(path))
                                                for q, path in ablations.items()],
                                     images, detail=True)
    else:
        print("no ablation models (data/weights/gan2017_ablation_q*.npz or --ablation): "
              "left out")
    rows += bench.measure_codecs("balle2017", [(f"quality={q}", get_codec("balle2017", quality=q))
                                               for q in balle2017.available_qualities()],
                                 images, detail=True)
    references = dict(REFERENCES)
    if "pillow-heif" in codec_names() and not args.no_heif:
        references["pillow-heif"] = HEIF_SETTINGS
    else:
        print("HEVC left out: pillow-heif is not installed" if not args.no_heif else
              "HEVC left out (--no-heif)")
    for codec, settings in references.items():
        rows += bench.measure_codecs(codec, [(bench.setting_label(s), get_codec(codec, **s))
                                             for s in settings], images, detail=True)
    summary = bench.summarize(rows)

    print(f"{len(images)} Kodak image(s), learned codecs on {args.backend}")
    print(bench.format_table(summary))
    print("\ndetail ratio (1.0 = the original's fine texture), MS-SSIM dB, time per image:")
    for entry in summary:
        print(f"  {entry['codec']:26s} {entry['setting']:22s} bpp {entry['bpp']:.3f}  "
              f"detail {entry['detail']:.3f}  MS-SSIM {entry['ms_ssim_db']:.2f} dB  "
              f"enc {1000 * entry['enc_s']:.0f} ms  dec {1000 * entry['dec_s']:.0f} ms")

    claim_rows = claims(summary)
    print("\nbytes of the reference / bytes of gan2017 at equal MS-SSIM:")
    for row in claim_rows:
        mean = f"  (geometric mean {row['geometric_mean']:.2f}x)" if "geometric_mean" in row else ""
        print(f"  {row['reference']:16s} claimed {row['claimed']}x  measured "
              f"{row['measured'] or '-'}{mean}  reproduced: {row['reproduced']}")

    tested = [c for c in ("gan2017", ABLATION, "balle2017")
              if any(entry["codec"] == c for entry in summary)]
    for anchor in ("pillow-jpeg", "balle2017", ABLATION):
        if anchor not in tested and anchor != "pillow-jpeg":
            continue
        others = [c for c in tested if c != anchor and (anchor == "pillow-jpeg" or c == "gan2017")]
        for metric, unit in (("ms_ssim_db", "dB MS-SSIM"), ("psnr", "dB PSNR")):
            print(f"\nBD-rate / BD-{metric} against {anchor} (negative = fewer bits):")
            for codec, result in bench.bd_against(summary, anchor, others, metric).items():
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
    print(f"\nwrote {out / 'gan2017_bench.csv'}, gan2017_claims.csv, gan2017_bench.png")


if __name__ == "__main__":
    main()
