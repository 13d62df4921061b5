"""Chapter 2b's measurements: ``mc-dct`` and ``intra-jpeg`` beside ffmpeg's encoders, one run.

For each clip (``carphone``, ``bikes``; the bundled ``pan`` when they are absent) this measures

* the RD curve (bits per pixel per frame, mean RGB PSNR over the frames) of ``mc-dct`` with the
  diamond and the full search, ``intra-jpeg``, and ffmpeg's ``mjpeg``, ``h261`` (QCIF/CIF only),
  ``mpeg1video`` (``-g 12 -bf 0``: P-frames only, like ours), ``mpeg4`` (``-g 12 -bf 0``),
  ``libx264`` and ``libx265`` (``-g 12``, their default B-frames and preset), through the binary
  that the ``imageio-ffmpeg`` package ships (a benchmark extra). ffmpeg gets raw RGB frames and
  returns raw RGB frames, so its own colour conversion (BT.601 studio range, 4:2:0) is part of its
  result, as ours is of ours. Rates count the elementary stream (no container);
* BD-rates (PSNR) of every codec against every other;
* encode and decode frames/s of ``mc-dct`` (diamond, quality 50) and ``intra-jpeg`` (quality 75),
  and the motion-search time of the Numba full search against a vectorised NumPy full search;
* the gain of the context-adaptive range coder over per-frame optimal Huffman codes fitted to
  the very same ``mc-dct`` symbols (code tables not counted: the Huffman figure is a lower bound).

    python benchmarks/video_bench.py                  # both clips, into benchmarks/results/video
    python benchmarks/video_bench.py --clips pan --fast              # seconds, bundled clip

Writes ``rd.csv``, ``report.md`` (BD-rates, speed, entropy coders) and ``rd_<clip>.png`` into
``--out``.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import fromscratch
from fromscratch.closing import video_curve
from fromscratch.codecs.video import get_video_codec
from fromscratch.data import load_video
from fromscratch.entropy.huffman import code_lengths
from fromscratch.metrics import bd_rate, psnr
from fromscratch.transforms.colour import rgb_to_ycbcr
from fromscratch.transforms.motion import full_search, motion_search

OURS = {
    "mc-dct (diamond)": ("mc-dct", {"search": "diamond"}, (15, 25, 35, 50, 65, 80)),
    "mc-dct (full)": ("mc-dct", {"search": "full"}, (15, 25, 35, 50, 65, 80)),
    "intra-jpeg": ("intra-jpeg", {}, (20, 35, 50, 65, 80, 90)),
}
GOP = ["-g", "12"]
FFMPEG = {  # name: (encoder options, elementary-stream format, pixel format, sweep option, values)
    "ffmpeg mjpeg": (["-c:v", "mjpeg"], "mjpeg", "yuvj420p", "-q:v", (3, 5, 8, 12, 18, 25)),
    "ffmpeg h261": (["-c:v", "h261", *GOP], "h261", "yuv420p", "-q:v", (3, 5, 8, 12, 18, 25)),
    "ffmpeg mpeg1video": (["-c:v", "mpeg1video", *GOP, "-bf", "0"], "mpeg1video", "yuv420p",
                          "-q:v", (2, 3, 5, 8, 12, 18)),
    "ffmpeg mpeg4": (["-c:v", "mpeg4", *GOP, "-bf", "0"], "m4v", "yuv420p", "-q:v",
                     (2, 3, 5, 8, 12, 18)),
    "ffmpeg libx264": (["-c:v", "libx264", *GOP], "h264", "yuv420p", "-crf", (18, 23, 28, 33, 38)),
    "ffmpeg libx265": (["-c:v", "libx265", *GOP, "-x265-params", "log-level=error"], "hevc",
                       "yuv420p", "-crf", (20, 25, 30, 35, 40)),
}


def mean_psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([psnr(x, y) for x, y in zip(a, b, strict=True)]))


def run_ours(name, frames, fps):
    codec_name, params, qualities = OURS[name]
    return [{k: row[k] for k in ("codec", "setting", "bpp", "psnr")}
            for row in video_curve(frames, fps, codec_name, qualities, name, **params)]


def run_ffmpeg(exe, name, frames, fps):
    options, fmt, pix_fmt, knob, values = FFMPEG[name]
    t, h, w = frames.shape[:3]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        stream = Path(tmp) / "stream"
        for value in values:
            subprocess.run([exe, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                            "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", *options,
                            "-pix_fmt", pix_fmt, knob, str(value), "-f", fmt, str(stream)],
                           input=frames.tobytes(), check=True)
            demuxer = "mpegvideo" if fmt == "mpeg1video" else fmt
            raw = subprocess.run([exe, "-v", "error", "-f", demuxer, "-i", str(stream),
                                  "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt",
                                  "rgb24", "-"], capture_output=True, check=True).stdout
            decoded = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
            if len(decoded) != t:
                raise RuntimeError(f"{name} {knob}={value}: {len(decoded)} frames back, not {t}")
            rows.append({"codec": name, "setting": f"{knob}={value}",
                         "bpp": 8 * stream.stat().st_size / frames[..., 0].size,
                         "psnr": mean_psnr(frames, decoded)})
    return rows


def bd_table(rows, clip):
    names = list(dict.fromkeys(r["codec"] for r in rows))
    curves = {n: ([r["bpp"] for r in rows if r["codec"] == n],
                  [r["psnr"] for r in rows if r["codec"] == n]) for n in names}
    lines = [f"BD-rate (PSNR), {clip}: row codec against column codec (negative = row saves)", "",
             "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for a in names:
        cells = []
        for b in names:
            try:
                cells.append("" if a == b else f"{bd_rate(*curves[b], *curves[a]):+.1f} %")
            except ValueError:
                cells.append("n/a")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed(frames, fps, repeats=1):
    lines = []
    for label, codec_name, params in (("mc-dct diamond q50", "mc-dct", {"quality": 50}),
                                      ("mc-dct full q50", "mc-dct",
                                       {"quality": 50, "search": "full"}),
                                      ("intra-jpeg q75", "intra-jpeg", {"quality": 75})):
        codec = get_video_codec(codec_name, **params)
        codec.encode(frames[:3], fps=fps)  # compile
        t0 = time.perf_counter()
        for _ in range(repeats):
            data = codec.encode(frames, fps=fps)
        t1 = time.perf_counter()
        for _ in range(repeats):
            fromscratch.decompress_video(data)
        t2 = time.perf_counter()
        n = len(frames) * repeats
        lines.append(f"| {label} | {n / (t1 - t0):.1f} | {n / (t2 - t1):.1f} |")
    return lines


def search_speed(frames):
    luma = np.rint(rgb_to_ycbcr(frames[:2])[..., 0]).astype(np.uint8)
    pad = ((0, 0), (0, -luma.shape[1] % 16), (0, -luma.shape[2] % 16))
    ref, cur = np.pad(luma, pad, mode="edge")
    motion_search(cur, ref, 16, "full", half_pel=False)  # compile
    t0 = time.perf_counter()
    v_numba, _ = motion_search(cur, ref, 16, "full", half_pel=False)
    t1 = time.perf_counter()
    v_numpy, _ = full_search(cur, ref, 16)
    t2 = time.perf_counter()
    motion_search(cur, ref, 16, "diamond", half_pel=False)
    t3 = time.perf_counter()
    motion_search(cur, ref, 16, "diamond", half_pel=False)
    t4 = time.perf_counter()
    assert np.array_equal(v_numba, 2 * v_numpy)
    return (f"full search +-16 on one {cur.shape[1]}x{cur.shape[0]} luma frame: Numba "
            f"{1e3 * (t1 - t0):.1f} ms, vectorised NumPy {1e3 * (t2 - t1):.1f} ms "
            f"({(t2 - t1) / (t1 - t0):.1f}x); diamond (Numba) {1e3 * (t4 - t3):.2f} ms")


def _huffman_bits(log, table_cost: bool = False) -> int:
    """Bits of optimal Huffman codes, one per context, fitted to ``log``'s symbols; with
    ``table_cost`` each table also pays what JPEG's DHT segment spends on it (16 + n bytes)."""
    bits = 0
    for ctx in np.unique(log[:, 0]):
        counts = np.bincount(log[log[:, 0] == ctx, 1])
        lengths = code_lengths(counts) if np.count_nonzero(counts) > 1 else (counts > 0)
        bits += int(np.sum(counts * np.asarray(lengths)))
        if table_cost:
            bits += 8 * (16 + np.count_nonzero(counts))
    return bits


def huffman_gain(frames):
    """The range coder's bytes against Huffman codes for the same symbols and contexts."""
    codec = get_video_codec("mc-dct", quality=50)
    results = codec.encode_verbose(fromscratch.codecs.video.as_video(frames), log_symbols=True)
    range_bits = sum(8 * len(payload) for _, payload in results)
    logs = [info.symbols for info, _ in results]
    figures = {
        "per frame, tables sent (as JPEG's DHT)": sum(_huffman_bits(g, True) for g in logs),
        "per frame, tables free": sum(_huffman_bits(g) for g in logs),
        "once for the whole clip, tables free": _huffman_bits(np.concatenate(logs)),
    }
    lines = [f"entropy coders on the mc-dct q50 symbols of {len(frames)} frames "
             f"(adaptive range coder: {range_bits / 8:.0f} bytes):", "",
             "| optimal Huffman codes per context | bytes | range coder's difference |",
             "|---|---|---|"]
    lines += [f"| {name} | {bits / 8:.0f} | {100 * (range_bits / bits - 1):+.1f} % |"
              for name, bits in figures.items()]
    return "\n".join(lines)


def plot(rows, clip, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in dict.fromkeys(r["codec"] for r in rows):
        pts = sorted((r["bpp"], r["psnr"]) for r in rows if r["codec"] == name)
        style = "-o" if not name.startswith("ffmpeg") else "--s"
        ax.plot(*zip(*pts, strict=True), style, label=name, ms=4)
    ax.set_xlabel("bits per pixel per frame")
    ax.set_ylabel("RGB PSNR (dB)")
    ax.set_title(f"{clip}: rate-distortion")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", default="carphone,bikes")
    parser.add_argument("--max-frames", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="two settings per codec, no ffmpeg")
    parser.add_argument("--no-rd", action="store_true",
                        help="only the speed, motion-search and entropy-coder measurements")
    parser.add_argument("--data", help="folder holding the clips (else FROMSCRATCH_VIDEO, ...)")
    parser.add_argument("--out", default="benchmarks/results/video")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    exe = None
    if not args.fast:
        try:
            import imageio_ffmpeg

            exe = imageio_ffmpeg.get_ffmpeg_exe()
        except ImportError:
            print("imageio-ffmpeg is not installed: ffmpeg's codecs are left out")
    all_rows, reports = [], []
    for clip in args.clips.split(","):
        frames, fps = load_video(clip, args.data, args.max_frames or None)
        print(f"{clip}: {frames.shape} at {float(fps):.3f} frames/s", flush=True)
        rows = []
        for name in () if args.no_rd else OURS:
            if args.fast:
                codec_name, params, qualities = OURS[name]
                OURS[name] = (codec_name, params, qualities[1::3])
            rows += run_ours(name, frames, fps)
            print(f"  {name} done", flush=True)
        for name in FFMPEG if exe and not args.no_rd else ():
            if name == "ffmpeg h261" and frames.shape[1:3] not in ((144, 176), (288, 352)):
                continue
            rows += run_ffmpeg(exe, name, frames, fps)
            print(f"  {name} done", flush=True)
        for r in rows:
            r["clip"] = clip
        all_rows += rows
        first_report = len(reports)
        if rows:
            plot(rows, clip, out / f"rd_{clip}.png")
            reports.append(bd_table(rows, clip))
        reports.append(f"\nspeed on {clip} ({frames.shape[2]}x{frames.shape[1]}), frames/s:\n\n"
                       "| codec | encode | decode |\n|---|---|---|\n"
                       + "\n".join(speed(frames, fps)))
        reports.append("\n" + search_speed(frames))
        reports.append(huffman_gain(frames[:24]) + "\n")
        print("\n".join(reports[first_report:]), flush=True)
    with open(out / "rd.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["clip", "codec", "setting", "bpp", "psnr"])
        writer.writeheader()
        writer.writerows(all_rows)
    (out / "report.md").write_text("\n\n".join(reports) + "\n")
    for r in all_rows:
        print(f"{r['clip']:9s} {r['codec']:20s} {r['setting']:12s} {r['bpp']:.4f} bpp "
              f"{r['psnr']:.2f} dB")


if __name__ == "__main__":
    main()
