"""Chapter 4 on Kodak: ``balle2017`` beside JPEG, WebP and JPEG 2000, with real bytes and estimates.

    python benchmarks/balle2017_bench.py [--images N] [--weights FILE ...] [--refine R] [--data DIR]

One run codes every Kodak image with every trained model (the shipped
``data/weights/balle2017_q*.npz``, or the files given with ``--weights``, ordered by their lambda)
and with our ``jpeg``, Pillow JPEG, WebP and JPEG 2000, then reports

* the RD table (mean bpp, PSNR, MS-SSIM, encode/decode ms) and BD-rates against Pillow JPEG,
* the same models with latent refinement at encoding (``refine=R``, ``--refine``, default 10;
  0 skips it), labelled ``balle2017+refine``, and its BD-rate against the plain encoder,
* per image and model: the real stream size beside the entropy model's estimate
  ``-sum(log2 p)`` (they should agree within 1 %),
* per model: the PSNR of its transforms alone, ``g_s(g_a(x))`` with the latents unquantized - the
  ceiling that no rate can lift,
* the training speed of the model's shape on this machine (steps per second, ``--train-steps``).

Writes ``benchmarks/results/balle2017_bench.{csv,png}`` and ``balle2017_estimates.csv``; the
published curves of ``../shared/reference`` (CompressAI's ``bmshj2018-factorized``) are drawn
dotted beside ours and labelled as published.
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np

from fromscratch import bench, nn
from fromscratch.codecs import get_codec
from fromscratch.codecs.balle2017 import Balle2017, RateDistortionLoss
from fromscratch.codecs.balle2017 import codec as balle2017
from fromscratch.data import kodak_paths, load_image
from fromscratch.metrics import psnr

REFERENCES = ("jpeg", "pillow-jpeg", "pillow-webp", "pillow-jpeg2000")
PUBLISHED = ("jpeg (Pillow 4:2:0)", "compressai bmshj2018-factorized (MSE)")


def use_weight_files(files: list[str]) -> Path:
    """Copy ``files`` into a temporary weights folder as quality 1, 2, ... by rising lambda."""
    folder = Path(tempfile.mkdtemp(prefix="balle2017-weights-"))
    ordered = sorted(files, key=lambda f: nn.load_weights(f).hyperparams["lmbda"])
    for quality, path in enumerate(ordered, start=1):
        shutil.copy(path, folder / f"balle2017_q{quality}.npz")
    balle2017.WEIGHTS_DIR = folder
    return folder


def estimates(images, qualities) -> list[dict]:
    """Real payload bits against the density's estimate, per image and quality."""
    rows = []
    for quality in qualities:
        loaded = balle2017.Balle2017Codec(quality=quality).model()
        for name, image in images:
            symbols = loaded.symbols(loaded.analysis(image))
            payload = balle2017.Balle2017Codec(quality=quality).encode_payload(image)
            estimate = loaded.estimated_bits(symbols)
            rows.append({"quality": quality, "lmbda": loaded.hyperparams["lmbda"],
                         "image": name, "payload_bits": 8 * len(payload),
                         "estimated_bits": round(estimate, 1),
                         "ratio": round(8 * len(payload) / estimate, 5)})
    return rows


def unquantized_psnr(loaded, images) -> float:
    """Mean PSNR of ``g_s(g_a(x))`` with the latents left unquantized (``loaded``: a codec's model).

    The coded PSNR falls short of this by the quantizer's share of the distortion; this falls
    short of a perfect reconstruction by the transforms' own. When a higher-rate model's figure
    stops rising, more bits cannot buy quality: the transforms are the limit, not the rate.
    """
    values = []
    for _, image in images:
        latents = loaded.analysis(image)
        y = latents[0] if isinstance(latents, tuple) else latents  # balle2018 returns (y, z)
        values.append(psnr(image, loaded.synthesis(y, image.shape)))
    return float(np.mean(values))


def print_unquantized(codec_name: str, codec_class, qualities, images, summary) -> None:
    """One line per quality: coded bpp and PSNR beside the transforms' own ceiling."""
    coded = {r["setting"]: r for r in summary if r["codec"] == codec_name}
    print(f"\n{codec_name}: coded PSNR against the transforms alone (latents unquantized)")
    for quality in qualities:
        row = coded[bench.setting_label({"quality": quality})]
        ceiling = unquantized_psnr(codec_class(quality=quality).model(), images)
        print(f"  q{quality}: {row['bpp']:.3f} bpp, {row['psnr']:.2f} dB coded, "
              f"{ceiling:.2f} dB unquantized ({ceiling - row['psnr']:+.2f})")


def refined_curve(codec_name: str, qualities, images, iterations: int) -> list[dict]:
    """Rows of ``codec_name`` with ``refine=iterations`` at every quality, labelled
    ``<codec_name>+refine`` (the same decoder: only the encoder searches longer)."""
    instances = [(bench.setting_label({"quality": q}),
                  get_codec(codec_name, quality=q, refine=iterations)) for q in qualities]
    return bench.measure_codecs(f"{codec_name}+refine", instances, images, progress=True)


def print_refined(codec_name: str, summary) -> None:
    """Per quality: what refinement changed in bpp and PSNR, and its encoding time."""
    plain = {r["setting"]: r for r in summary if r["codec"] == codec_name}
    refined = [r for r in summary if r["codec"] == f"{codec_name}+refine"]
    print(f"\n{codec_name}: latent refinement at encoding (same streams' format, same decoder)")
    for row in refined:
        base = plain[row["setting"]]
        print(f"  {row['setting']}: {base['bpp']:.4f} -> {row['bpp']:.4f} bpp "
              f"({100 * (row['bpp'] / base['bpp'] - 1):+.1f} %), {base['psnr']:.2f} -> "
              f"{row['psnr']:.2f} dB ({row['psnr'] - base['psnr']:+.2f}), encoding "
              f"{base['enc_s']:.1f} -> {row['enc_s']:.1f} s")


def print_bd_rates(summary, pairs, metric: str = "psnr") -> None:
    """One line per (anchor, codec) of ``pairs`` (anchor, codecs): BD-rate and BD-``metric``;
    codecs absent from ``summary`` are left out."""
    present = {r["codec"] for r in summary}
    for anchor, codecs in pairs:
        for codec, result in bench.bd_against(summary, anchor, codecs, metric).items():
            if codec in present:
                shown = (f"not defined: {result}" if isinstance(result, str)
                         else f"{result[0]:+7.1f} %   {result[1]:+6.2f} dB")
                print(f"  {codec:16s} vs {anchor:14s} {shown}")


def training_speed(model, steps: int, crop: int = 128, batch: int = 8) -> float:
    """Steps per second of one training step (forward, loss, backward, Adam) on random crops."""
    optimizer = nn.Adam(model.parameters(), lr=1e-4)
    loss = RateDistortionLoss(0.01)
    x = np.random.default_rng(0).uniform(0, 1, (batch, 3, crop, crop)).astype(np.float32)
    for i in range(steps + 1):
        if i == 1:  # the first step compiles the Numba kernels
            start = time.perf_counter()
        model.zero_grad()
        loss.forward(*model.forward(x), x)
        model.backward(*loss.backward())
        optimizer.step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--weights", nargs="*", help="weight files to use instead of the shipped")
    parser.add_argument("--train-steps", type=int, default=5, help="0: skip the speed test")
    parser.add_argument("--refine", type=int, default=10,
                        help="encoder iterations of latent refinement to measure (0: skip)")
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    if args.weights:
        use_weight_files(args.weights)
    qualities = balle2017.available_qualities()
    if not qualities:
        raise SystemExit("no balle2017 weights: train them (python -m fromscratch train "
                         "balle2017) or pass --weights")
    images = [(p.stem, load_image(p)) for p in kodak_paths(args.data)[: args.images]]
    rows = bench.rd_curve("balle2017", images, [{"quality": q} for q in qualities])
    if args.refine:
        rows += refined_curve("balle2017", qualities, images, args.refine)
    for codec in REFERENCES:
        rows += bench.rd_curve(codec, images)
    summary = bench.summarize(rows)
    print(f"{len(images)} Kodak image(s)")
    print(bench.format_table(summary))

    print("\nBD-rate / BD-PSNR against Pillow JPEG (PSNR, pchip; negative = fewer bits):")
    tested = ("balle2017", "balle2017+refine", "jpeg", "pillow-webp", "pillow-jpeg2000")
    print_bd_rates(summary, [("pillow-jpeg", tested), ("balle2017", ("balle2017+refine",))])
    if args.refine:
        print_refined("balle2017", summary)

    estimate_rows = estimates(images, qualities)
    ratios = np.array([r["ratio"] for r in estimate_rows])
    print(f"\nreal stream / estimated bits over {len(estimate_rows)} codings: mean "
          f"{ratios.mean():.4f}, range {ratios.min():.4f} .. {ratios.max():.4f}")

    print_unquantized("balle2017", balle2017.Balle2017Codec, qualities, images, summary)

    loaded = balle2017.Balle2017Codec(quality=qualities[0]).model()
    if args.train_steps:
        speed = training_speed(Balle2017(loaded.model.n, loaded.model.m, rng=0),
                               args.train_steps)
        print(f"training speed, N={loaded.model.n} M={loaded.model.m}, 8 x 128^2 crops: "
              f"{speed:.2f} steps/s on this machine")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bench.save_csv(summary, out / "balle2017_bench.csv")
    bench.save_csv(estimate_rows, out / "balle2017_estimates.csv")
    bench.save_rd_figure(summary, out / "balle2017_bench.png", f"on {len(images)} Kodak images",
                         published=PUBLISHED, max_bpp=1.6)
    print(f"wrote {out / 'balle2017_bench.csv'}, balle2017_estimates.csv, balle2017_bench.png")


if __name__ == "__main__":
    main()
