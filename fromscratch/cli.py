"""The command line: ``python -m fromscratch {encode,decode,info,bench,demo,train,classroom,book,
figures}``.

    python -m fromscratch encode photo.png photo.fsc --codec raw
    python -m fromscratch decode photo.fsc photo-decoded.png
    python -m fromscratch info photo.fsc
    python -m fromscratch encode clip/ clip.fsv --codec mc-dct --quality 50   # PNG frames or .y4m
    python -m fromscratch decode clip.fsv clip.y4m      # or a folder name: PNG frames
    python -m fromscratch bench --codecs pillow-jpeg,pillow-webp --images kodak
    python -m fromscratch demo --out demo-out
    python -m fromscratch classroom release student-notebooks/
    python -m fromscratch classroom grade 01_entropy_coding.ipynb --json
    python -m fromscratch book book-out/ [--full] [--chapters 00 07]
    python -m fromscratch figures docs/figures

Bad input prints one line starting with ``fromscratch: error:`` and exits with status 1 (2 for a
wrong command line), never a traceback. Every file is written atomically (a temporary file renamed
into place) and an output path equal to the input is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

from . import DEFAULT_CODEC, DEFAULT_VIDEO_CODEC, bench, book, classroom, container, figures
from ._files import default_file_mode
from .backend import BackendError
from .bitstream import BitstreamError
from .codecs import codec_class, codec_for_data, codec_names, get_codec
from .codecs.video import (
    get_video_codec,
    read_frames,
    read_video_header,
    video_codec_names,
    write_y4m,
)
from .codecs.video.container import is_video
from .data import (
    find_data_dir,
    kodak_paths,
    load_image,
    sample_image,
    save_image,
)
from .training import TRAINERS, trainer

__all__ = ["main"]


class CliError(Exception):
    """A user mistake the CLI reports in one line."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _refuse_overwriting_input(src: Path, dst: Path) -> None:
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise CliError(f"refusing to overwrite the input file {src}")


def _parse_params(args) -> dict:
    params = {}
    for item in args.param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param takes NAME=VALUE, got {item!r}")
        params[key] = value
    if args.quality is not None:
        params["quality"] = args.quality
    return params


def _is_video_input(src: Path) -> bool:
    return src.is_dir() or src.suffix.lower() == ".y4m"


def cmd_encode(args) -> None:
    src, dst = Path(args.input), Path(args.output)
    _refuse_overwriting_input(src, dst)
    if _is_video_input(src):
        frames, fps = read_frames(src)
        codec = get_video_codec(args.codec or DEFAULT_VIDEO_CODEC, **_parse_params(args))
        data = codec.encode(frames, fps=Fraction(args.fps) if args.fps else fps)
        write_atomic(dst, data)
        pixels = frames.shape[0] * frames.shape[1] * frames.shape[2]
        print(f"{dst}: {frames.shape[0]} frames, {len(data)} bytes, "
              f"{8 * len(data) / pixels:.4f} bpp ({codec!r})")
        return
    image = load_image(src)
    codec = get_codec(args.codec or DEFAULT_CODEC, **_parse_params(args))
    data = codec.encode(image)
    write_atomic(dst, data)
    pixels = image.shape[0] * image.shape[1]
    print(f"{dst}: {len(data)} bytes, {8 * len(data) / pixels:.4f} bpp ({codec!r})")


def cmd_decode(args) -> None:
    src, dst = Path(args.input), Path(args.output)
    _refuse_overwriting_input(src, dst)
    data = src.read_bytes()
    if is_video(data):
        from . import decompress_video

        frames = decompress_video(data)
        fps = read_video_header(data).fps
        if dst.suffix.lower() == ".y4m":
            write_y4m(dst, frames, fps, chroma=args.chroma)
        else:  # a folder of PNG frames
            dst.mkdir(parents=True, exist_ok=True)
            for t, frame in enumerate(frames, start=1):
                save_image(dst / f"{t:03d}.png", frame)
            (dst / "fps").write_text(f"{fps}\n")
        print(f"{dst}: {frames.shape[0]} frames of {frames.shape[2]} x {frames.shape[1]} at "
              f"{float(fps):.3f} frames/s")
        return
    image = codec_for_data(data).decode(data)
    save_image(dst, image)
    print(f"{dst}: {image.shape[1]} x {image.shape[0]}, {'RGB' if image.ndim == 3 else 'gray'}")


def cmd_info(args) -> None:
    data = Path(args.file).read_bytes()
    if is_video(data):
        header = read_video_header(data)
        n_i = header.frame_types.count("I")
        print("format:   fromscratch video container v1")
        print(f"codec:    {header.codec}")
        print(f"video:    {header.n_frames} frames of {header.width} x {header.height} x "
              f"{header.channels} at {header.fps} ({float(header.fps):.3f}) frames/s")
        print(f"params:   {header.params}")
        sizes = ", ".join(map(str, header.lengths[:24])) + (", ..." if header.n_frames > 24 else "")
        print(f"frames:   {n_i} I, {header.n_frames - n_i} P; bytes per frame {sizes}")
        pixels = header.n_frames * header.height * header.width
        print(f"size:     {len(data)} bytes, {8 * len(data) / pixels:.4f} bpp")
        return
    if container.is_container(data):
        header, payload = container.unpack(data)
        pixels = header.height * header.width
        print(f"format:   fromscratch container v{header.version}")
        print(f"codec:    {header.codec}")
        print(f"image:    {header.width} x {header.height} x {header.channels}")
        print(f"params:   {header.params}")
        print(f"payload:  {len(payload)} bytes (header {header.payload_offset}, CRC 4) - CRC ok")
        extra = len(data) - header.total_length
        if extra:
            print(f"trailing: {extra} bytes after the CRC (ignored)")
    else:
        codec = codec_for_data(data)
        image = codec.decode(data)
        pixels = image.shape[0] * image.shape[1]
        channels = 1 if image.ndim == 2 else image.shape[2]
        print(f"format:   {codec.file_format} (read by codec {codec.name})")
        print(f"image:    {image.shape[1]} x {image.shape[0]} x {channels}")
    print(f"size:     {len(data)} bytes, {8 * len(data) / pixels:.4f} bpp")


def _bench_images(spec: str, data_dir):
    if spec == "kodak":
        return kodak_paths(data_dir)
    paths = [Path(p) for p in spec.split(",")]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise CliError(f"image file(s) not found: {', '.join(missing)}")
    return paths


def _parse_settings(text: str | None, codec: str):
    """``quality=10,50,90`` -> [{'quality': '10'}, ...] (validated by the codec)."""
    if not text:
        return None
    key, sep, values = text.partition("=")
    if not sep:
        raise CliError(f"--settings takes NAME=V1,V2,..., got {text!r}")
    settings = [{key: v} for v in values.split(",") if v]
    for params in settings:
        get_codec(codec, **params)
    return settings


def cmd_bench(args) -> None:
    data_dir = find_data_dir(args.data)
    images = [(p.stem, load_image(p)) for p in _bench_images(args.images, args.data)]
    if args.max_images:
        images = images[: args.max_images]
    names = [c.strip() for c in args.codecs.split(",") if c.strip()]
    for name in names:
        codec_class(name)
    rows = []
    for name in names:
        rows += bench.rd_curve(name, images, _parse_settings(args.settings, name))
    summary = bench.summarize(rows)
    print(f"{len(images)} image(s) from {data_dir or 'the bundled samples'}")
    print(bench.format_table(summary))
    _write_outputs(Path(args.out), rows, summary, f"{len(images)} images")


def _write_outputs(out: Path, rows, summary, what: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    bench.save_csv(rows, out / "rows.csv")
    bench.save_csv(summary, out / "summary.csv")
    bench.save_json(summary, out / "summary.json")
    bench.save_rd_figure(summary, out / "rd.png", f"on {what}")
    print(f"wrote {out / 'summary.csv'}, {out / 'rows.csv'} and {out / 'rd.png'}")


def _demo_settings(settings: tuple[dict, ...]) -> list[dict]:
    if len(settings) <= 3:
        return list(settings)
    return [settings[0], settings[len(settings) // 2], settings[-1]]


def cmd_demo(args) -> None:
    name, image = sample_image(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_image(out / f"{name}-original.png", image)
    rows = []
    for codec in codec_names():
        for params in _demo_settings(codec_class(codec).settings):
            instance = get_codec(codec, **params)
            bench.warm_up(instance, image)
            row, decoded = bench.measure(instance, name, image, bench.setting_label(params))
            save_image(out / f"{name}-{codec}-{row['setting'].replace('=', '')}.png", decoded)
            rows.append(row)
    print(f"image {name}: {image.shape[1]} x {image.shape[0]}, {image.nbytes} bytes of pixels")
    print(bench.format_table(rows))
    _write_outputs(out, rows, bench.summarize(rows), name)


def cmd_train(args) -> int:
    return trainer(args.codec)(args.options)


def cmd_classroom(args) -> int:
    try:
        if args.action == "release":
            for path in classroom.release(args.out, args.notebooks, args.chapters):
                print(path)
        elif args.action == "template":
            names = classroom.write_course(args.out, args.notebooks, args.chapters)
            print(f"{args.out}: nbgrader_config.py, and source/<chapter>/ for "
                  + ", ".join(names))
        else:
            report = classroom.grade(args.notebook, args.notebooks)
            print(json.dumps(report.to_json(), indent=1) if args.json else report.to_text())
    except classroom.ClassroomError as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_book(args) -> int:
    try:
        chapters = book.build(args.out, full=args.full, chapters=args.chapters,
                              notebooks=args.notebooks, timeout=args.timeout,
                              mathjax_url=args.mathjax_url)
    except book.BookError as exc:
        raise CliError(str(exc)) from exc
    for chapter in chapters:
        print(f"{chapter.notebook.stem:28s} {chapter.era:11s} {chapter.seconds:7.1f} s  "
              f"{Path(args.out) / chapter.page}")
    print(f"wrote {Path(args.out) / 'index.html'}")
    return 0


def cmd_figures(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    try:
        paths = figures.write_all(args.out, results=args.results, data=args.data,
                                  crop=args.crop, target_bpp=args.target_bpp)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from exc
    for path in paths:
        print(f"{path}: {path.stat().st_size // 1024} KB")
    return 0


def _add_book_parsers(sub) -> None:
    p = sub.add_parser("book", help="run every chapter notebook and write the book as HTML")
    p.add_argument("out", help="output folder (one page per chapter and index.html)")
    p.add_argument("--full", action="store_true",
                   help="run the chapters in full (default: fast mode, FROMSCRATCH_FAST=1)")
    p.add_argument("--chapters", nargs="+", metavar="NN", help="only these, e.g. 00 07")
    p.add_argument("--notebooks", help="folder of the chapter notebooks (default: notebooks/)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds one cell may run")
    p.add_argument("--mathjax-url", help="MathJax 2 for the pages (default: a CDN; offline, "
                   "e.g. file:///usr/share/javascript/mathjax/MathJax.js?config=TeX-AMS_CHTML-full)")
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("figures", help="the README's figures, from the package and the weights")
    p.add_argument("out", nargs="?", default="docs/figures", help="output folder")
    p.add_argument("--results", help="closing results JSON (default: data/results/closing.json)")
    p.add_argument("--data", help="folder holding kodak/ (else FROMSCRATCH_DATA, ../shared)")
    p.add_argument("--crop", type=int, default=192, help="side of the crop, pixels")
    p.add_argument("--target-bpp", type=float, default=0.3,
                   help="bit rate the crops are compared at")
    p.set_defaults(func=cmd_figures)


def _add_classroom_parser(sub) -> None:
    p = sub.add_parser("classroom", help="the chapters as nbgrader assignments: release, grade")
    actions = p.add_subparsers(dest="action", required=True)
    notebooks_help = "folder of the solved chapter notebooks (default: the repository's notebooks/)"
    for action, help_text in (
        ("release", "write the student version of every chapter (nbgrader generate_assignment)"),
        ("template", "write an nbgrader course: nbgrader_config.py and source/<chapter>/"),
    ):
        q = actions.add_parser(action, help=help_text)
        q.add_argument("out", help="output folder")
        q.add_argument("--chapters", nargs="+", metavar="NN", help="only these, e.g. 00 02b")
        q.add_argument("--notebooks", help=notebooks_help)
    q = actions.add_parser("grade", help="autograde one submitted notebook (nbgrader autograde)")
    q.add_argument("notebook")
    q.add_argument("--json", action="store_true", help="print the points as JSON")
    q.add_argument("--notebooks", help=notebooks_help)
    p.set_defaults(func=cmd_classroom)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fromscratch",
        description="Image compression built from scratch: encode, decode, inspect, measure.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("encode", help="compress an image file, or a video (PNG folder or .y4m)")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--codec", help=f"one of: {', '.join(codec_names())} (default {DEFAULT_CODEC}"
                   f"); video: {', '.join(video_codec_names())} (default {DEFAULT_VIDEO_CODEC})")
    p.add_argument("--fps", help="video frame rate, e.g. 25 or 30000/1001 (default: the input's)")
    p.add_argument("--quality", help="the codec's quality parameter, if it has one")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="other parameters")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("decode", help="decompress to an image file (PNG by suffix); video: to "
                       "a .y4m file or a folder of PNG frames")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--chroma", choices=("420", "444"), default="420",
                   help="chroma sampling of a written .y4m")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("info", help="show what a compressed file's header says")
    p.add_argument("file")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("bench", help="rate-distortion curves of codecs on a set of images")
    p.add_argument("--codecs", default="pillow-jpeg,pillow-webp")
    p.add_argument("--images", default="kodak", help="'kodak' or comma-separated image files")
    p.add_argument("--settings", help="override the sweep, e.g. quality=10,50,90")
    p.add_argument("--max-images", type=int, default=0, help="use only the first N images")
    p.add_argument("--data", help="folder holding kodak/ and train/ (else FROMSCRATCH_DATA)")
    p.add_argument("--out", default="bench-out")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "train", help="train a learned codec's weights (options: train NAME --help)",
        add_help=False,
    )
    p.add_argument("codec", help="one of: " + ", ".join(TRAINERS))
    p.add_argument("options", nargs=argparse.REMAINDER, help="passed to the codec's trainer")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("demo", help="every codec on one sample image: table, images, RD plot")
    p.add_argument("--data", help="folder holding kodak/ and train/ (else FROMSCRATCH_DATA)")
    p.add_argument("--out", default="demo-out")
    p.set_defaults(func=cmd_demo)

    _add_classroom_parser(sub)
    _add_book_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 bad input, 2 bad command line)."""
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
    except (CliError, BitstreamError, BackendError, ValueError, OSError) as exc:
        print(f"fromscratch: error: {exc}", file=sys.stderr)
        return 1
    return status or 0
