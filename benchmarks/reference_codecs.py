"""RD curves of the reference codecs on Kodak, BD-rates against Pillow JPEG, and the plot.

    python benchmarks/reference_codecs.py [--images N] [--codecs a,b,c] [--data DIR]

Writes benchmarks/results/reference_codecs.{csv,png} and prints the summary table and BD-rates
(the published curves from ../shared/reference, when present, are drawn beside ours, labelled).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from fromscratch import bench
from fromscratch.data import kodak_paths, load_image

# Published curves of the same codecs (and the learned codec chapter 4 aims at), for context.
PUBLISHED = ("jpeg (Pillow 4:2:0)", "webp (TFC curve)", "jpeg2000 (OpenJPEG)",
             "compressai bmshj2018-factorized (MSE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--codecs", default="pillow-jpeg,pillow-webp,pillow-jpeg2000")
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    images = [(p.stem, load_image(p)) for p in kodak_paths(args.data)[: args.images]]
    codecs = args.codecs.split(",")
    rows = [row for codec in codecs for row in bench.rd_curve(codec, images)]
    summary = bench.summarize(rows)
    print(f"{len(images)} Kodak image(s)")
    print(bench.format_table(summary))

    print(f"\nBD-rate and BD-PSNR against {codecs[0]} (negative BD-rate = fewer bits):")
    for codec, result in bench.bd_against(summary, codecs[0], codecs[1:]).items():
        if isinstance(result, str):
            print(f"  {codec:18s} not defined: {result}")
        else:
            print(f"  {codec:18s} BD-rate {result[0]:+7.1f} %   BD-PSNR {result[1]:+6.2f} dB")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bench.save_csv(summary, out / "reference_codecs.csv")
    bench.save_rd_figure(summary, out / "reference_codecs.png", f"on {len(images)} Kodak images",
                         published=PUBLISHED, max_bpp=2.0)
    print(f"\nwrote {out / 'reference_codecs.csv'} and {out / 'reference_codecs.png'}")

if __name__ == "__main__":
    main()
