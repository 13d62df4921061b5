"""The closing benchmark (chapter 07): every codec of the book on Kodak and the clips, one run.

    OPENBLAS_NUM_THREADS=1 python benchmarks/closing_bench.py            # the stored table
    python benchmarks/closing_bench.py --images 2 --clips pan --out /tmp/closing.json  # a look

Measures everything :func:`fromscratch.closing.measure` measures (every image codec's RD curve
and speed on the first ``--images`` Kodak images, Huffman's bound, ``mc-dct`` and
``intra-jpeg`` on the clips, the training compute of every weight file) and adds ffmpeg's MPEG-1
(``-g 12 -bf 0``, through ``video_bench.run_ffmpeg`` and the binary of ``imageio-ffmpeg``) beside
the video codecs. Prints the claims table, the speeds and the training compute, and writes the
results to ``data/results/closing.json`` (committed: chapter 07's fast mode and
``python -m fromscratch figures`` read it). Rerun it whenever a weight file changes.
"""

import argparse
import time
from pathlib import Path

import video_bench  # the benchmark beside this one: ffmpeg's codecs

from fromscratch import closing
from fromscratch.data import kodak_paths, load_image


def mpeg1(frames, fps):
    """ffmpeg's MPEG-1 (P-frames only, GOP 12) on the frames: RD rows as ``video_curve``'s."""
    import imageio_ffmpeg

    return video_bench.run_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe(), "ffmpeg mpeg1video",
                                  frames, fps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--clips", default="carphone,bikes", help="video clips ('' for none)")
    parser.add_argument("--max-frames", type=int, default=0, help="first N frames of each clip")
    parser.add_argument("--no-ffmpeg", action="store_true", help="leave MPEG-1 out")
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(closing.RESULTS_PATH))
    args = parser.parse_args()

    started = time.perf_counter()
    images = [(p.stem, load_image(p)) for p in kodak_paths(args.data)[: args.images]]
    peers = {}
    if not args.no_ffmpeg:
        try:
            import imageio_ffmpeg  # noqa: F401

            peers["ffmpeg mpeg1video"] = mpeg1
        except ImportError:
            print("imageio-ffmpeg is not installed: MPEG-1 is left out")
    clips = [c for c in args.clips.split(",") if c]
    results = closing.measure(images, clips, max_frames=args.max_frames or None,
                              video_peers=peers)
    results["meta"]["command"] = "python benchmarks/closing_bench.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items()
        if v not in (parser.get_default(k), None) and k != "out")
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)

    print(f"{len(images)} Kodak image(s), clips {results['meta']['clips']}, "
          f"{results['meta']['seconds']:.0f} s")
    for row in closing.claims(results):
        print(f"\n{row['era']}: {row['claim']}\n  ours: {row['ours']}\n  published: "
              f"{row['published']}\n  verdict: {row['verdict']} ({row['rule']})"
              + (f"\n  why: {row['why']}" if row["why"] else ""))
    print("\nspeed, megapixels/s (encode / decode):")
    for row in closing.speeds(results):
        print(f"  {row['codec']:20s} {row['kind']:6s} {row['encode_mp_s']:9.2f} / "
              f"{row['decode_mp_s']:9.2f}")
    print("\ntraining compute:")
    for row in results["training"]:
        print(f"  {row['file']:22s} {row['steps']:>8,} steps, batch {row['batch']}, "
              f"crop {row['crop']}")
    closing.save_results(results, Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
