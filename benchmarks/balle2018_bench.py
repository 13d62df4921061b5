"""Chapter 6 on Kodak: ``balle2018`` beside ``balle2017``, JPEG, WebP, JPEG 2000, AVIF and HEVC.

    python benchmarks/balle2018_bench.py [--images N] [--no-heif] [--train-steps S] [--refine R]
                                         [--data DIR]

One run codes every Kodak image with every shipped model (``data/weights/balle2018_q*.npz`` and
``balle2017_q*.npz``) and with Pillow JPEG, WebP, JPEG 2000, AVIF and - when the optional
``pillow-heif`` is installed - HEVC intra (HEIF, x265, 4:4:4 like the BPG of the papers), then
reports

* the RD table (mean bpp, PSNR, MS-SSIM, encode/decode ms),
* the same models with latent refinement at encoding (``refine=R``, ``--refine``, default 10;
  0 skips it), labelled ``balle2018+refine``: the same decoder, an encoder that searches,
* BD-rates of ``balle2018`` (and ``balle2018+refine``) against Pillow JPEG, ``balle2017``, HEVC
  and AVIF, in PSNR and in MS-SSIM (dB, ``-10 log10(1 - MS-SSIM)``),
* the side information (the z stream) as a share of the rate, per quality,
* per image and quality, the real payload against the estimate ``-sum log2 p`` (z and y),
* what the integer hyper-synthesis costs: the share of latents whose table differs from the one a
  float h_s would pick, and the estimated bits of both,
* per model and quality, the PSNR of the transforms alone (latents unquantized) beside the coded
  PSNR,
* the training speed of both models on this machine (``--train-steps``).

Writes ``benchmarks/results/balle2018_bench.{csv,png}`` and ``balle2018_estimates.csv``; the
published CompressAI curves of ``../shared/reference`` are drawn beside ours, labelled published.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
from balle2017_bench import (  # the benchmark beside this one
    print_bd_rates,
    print_refined,
    print_unquantized,
    refined_curve,
    training_speed,
)

from fromscratch import bench
from fromscratch.codecs import codec_names
from fromscratch.codecs.balle2017 import Balle2017
from fromscratch.codecs.balle2017 import codec as balle2017
from fromscratch.codecs.balle2018 import Balle2018
from fromscratch.codecs.balle2018 import codec as balle2018
from fromscratch.data import kodak_paths, load_image
from fromscratch.nn.gaussian_conditional import scale_indexes

#: reference codecs and their settings (None: the codec's own sweep), kept to the 0.1-1.5 bpp of
#: the learned models where the codec is slow
REFERENCES = {"pillow-jpeg": None, "pillow-webp": None, "pillow-jpeg2000": None,
              "pillow-avif": tuple({"quality": q} for q in (10, 20, 30, 40, 50, 60))}
HEIF_SETTINGS = tuple({"quality": q, "chroma": "444"} for q in (10, 18, 26, 34, 42))
PUBLISHED = ("compressai bmshj2018-hyperprior (MSE)", "compressai bmshj2018-factorized (MSE)",
             "bpg 4:4:4 (x265)")


def estimates(images, qualities) -> list[dict]:
    """Per image and quality: real z and y bits, their estimates, and the float-h_s comparison."""
    rows = []
    for quality in qualities:
        codec = balle2018.Balle2018Codec(quality=quality)
        loaded = codec.model()
        for name, image in images:
            z_symbols, y_symbols = codec.symbols(image)
            payload = codec.encode_payload(image)
            z_bits = 8 * (4 + int.from_bytes(payload[:4], "big"))
            est_z, est_y = loaded.estimated_bits(z_symbols, y_symbols)
            # the float h_s a naive codec would run, and the tables it would pick
            z_hat = (z_symbols + loaded.z_medians[:, None, None]).astype(np.float32)
            float_scales = loaded.model.h_s.forward(z_hat[None])[0]
            float_indexes = scale_indexes(float_scales, loaded.scale_table.astype(np.float32))
            integer_indexes = loaded.y_indexes(z_symbols)
            float_y = loaded.y_estimated_bits(y_symbols, float_indexes)
            rows.append({
                "quality": quality, "lmbda": loaded.hyperparams["lmbda"], "image": name,
                "payload_bits": 8 * len(payload), "z_bits": z_bits,
                "estimated_bits": round(est_z + est_y, 1), "estimated_z_bits": round(est_z, 1),
                "ratio": round(8 * len(payload) / (est_z + est_y), 5),
                "side_share": round(z_bits / (8 * len(payload)), 5),
                "indexes_differing": round(float((float_indexes != integer_indexes).mean()), 6),
                "float_hs_estimated_y_bits": round(float_y, 1),
                "integer_hs_estimated_y_bits": round(est_y, 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--no-heif", action="store_true", help="skip HEVC (slow to encode)")
    parser.add_argument("--train-steps", type=int, default=5, help="0: skip the speed test")
    parser.add_argument("--refine", type=int, default=10,
                        help="encoder iterations of latent refinement to measure (0: skip)")
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    qualities = balle2018.available_qualities()
    if not qualities:
        raise SystemExit("no balle2018 weights: python -m fromscratch train balle2018 ...")
    images = [(p.stem, load_image(p)) for p in kodak_paths(args.data)[: args.images]]
    references = []  # the references first: they do not depend on the weight files
    for codec, settings in REFERENCES.items():
        references += bench.rd_curve(codec, images, settings)
    heif = "pillow-heif" in codec_names() and not args.no_heif
    if heif:
        references += bench.rd_curve("pillow-heif", images, HEIF_SETTINGS)
    learned = bench.rd_curve("balle2017", images,
                             [{"quality": q} for q in balle2017.available_qualities()])
    for quality in qualities:
        hyper = balle2018.Balle2018Codec(quality=quality).model().hyperparams
        print(f"balle2018 q{quality}: lambda {hyper['lmbda']}, {hyper['commands'][-1]}")
    learned = bench.rd_curve("balle2018", images, [{"quality": q} for q in qualities]) + learned
    if args.refine:
        learned += refined_curve("balle2018", qualities, images, args.refine)
    summary = bench.summarize(learned + references)
    print(f"{len(images)} Kodak image(s)")
    print(bench.format_table(summary))

    anchors = ["pillow-jpeg", "balle2017", "pillow-avif"] + (["pillow-heif"] if heif else [])
    tested = ("balle2018", "balle2018+refine", "balle2017", "pillow-webp", "pillow-avif",
              "pillow-heif")
    for metric, name in (("psnr", "PSNR"), ("ms_ssim_db", "MS-SSIM in dB, -10 log10(1 - m)")):
        print(f"\nBD-rate / BD-{metric} ({name}, pchip; negative = fewer bits):")
        pairs = [(anchor, [c for c in tested if c != anchor]) for anchor in anchors]
        pairs.append(("balle2018", ["balle2018+refine"]))  # what the search alone buys
        print_bd_rates(summary, pairs, metric)

    if args.refine:
        print_refined("balle2018", summary)

    estimate_rows = estimates(images, qualities)
    print("\nper quality: side information share, real / estimate, tables a float h_s would "
          "change, and the bits that change")
    for quality in qualities:
        mine = [r for r in estimate_rows if r["quality"] == quality]
        share = np.mean([r["side_share"] for r in mine])
        ratios = np.array([r["ratio"] for r in mine])
        differing = np.mean([r["indexes_differing"] for r in mine])
        float_bits = sum(r["float_hs_estimated_y_bits"] for r in mine)
        int_bits = sum(r["integer_hs_estimated_y_bits"] for r in mine)
        print(f"  q{quality}: side {100 * share:.2f} % of the rate; real/estimate mean "
              f"{ratios.mean():.4f} ({ratios.min():.4f} .. {ratios.max():.4f}); "
              f"{100 * differing:.3f} % of tables differ; y bits integer/float "
              f"{int_bits / float_bits:.5f}")

    print_unquantized("balle2018", balle2018.Balle2018Codec, qualities, images, summary)
    print_unquantized("balle2017", balle2017.Balle2017Codec, balle2017.available_qualities(),
                      images, summary)

    if args.train_steps:
        for name, model, crop, batch in (
                ("balle2017", Balle2017(64, 96, rng=0), 128, 8),
                ("balle2018", Balle2018(64, 96, rng=0), 256, 2)):
            speed = training_speed(model, args.train_steps, crop, batch)
            print(f"training speed {name}, N=64 M=96, {batch} x {crop}^2 crops: "
                  f"{speed:.2f} steps/s on this machine")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bench.save_csv(summary, out / "balle2018_bench.csv")
    bench.save_csv(estimate_rows, out / "balle2018_estimates.csv")
    bench.save_rd_figure(summary, out / "balle2018_bench.png", f"on {len(images)} Kodak images",
                         published=PUBLISHED, max_bpp=1.6)
    print(f"wrote {out / 'balle2018_bench.csv'}, balle2018_estimates.csv, balle2018_bench.png")


if __name__ == "__main__":
    main()
