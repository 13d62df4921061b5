"""Peak memory and time per megapixel of the learned codecs on phone-sized photos.

    python benchmarks/memory_bench.py [--sizes 0.5 3 12] [--codecs balle2017 ...] [--repeat 1]

Every measurement runs in a fresh child process (``python memory_bench.py --child ...``), which
loads the image, warms the codec up on a 64 x 64 crop (weight file, compiled kernels loaded from
Numba's disk cache, which a first child per codec fills), then codes the whole image once and
reports the wall time of that call and its own peak resident set size (``VmHWM``: the
interpreter, NumPy and the model included, as a user would see it). Encode and decode are
separate children, so neither inherits the other's peak.

The test photos are a Kodak image (kodim23 if present) resized with Pillow (Lanczos) to 4:3 frames
of about 0.5, 3 and 12 megapixels (816 x 612, 2000 x 1500, 4000 x 3000); they are written to a
temporary folder and deleted afterwards. Pillow's JPEG and WebP (default quality 75) run on the
same images beside every learned codec (``balle2017`` and ``balle2018`` at quality 2 by default;
codecs that land later are added with ``--codecs name:quality``).

On a shared machine pass ``--threads 1``: two BLAS threads waiting for each other on a busy
core make wall times swing by 2x between runs. Writes ``benchmarks/results/memory.csv`` and
prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = {0.5: (816, 612), 3.0: (2000, 1500), 12.0: (4000, 3000)}


def frame_size(megapixels: float) -> tuple[int, int]:
    """(width, height) of a 4:3 frame of about ``megapixels``, both multiples of 4."""
    if megapixels in SIZES:
        return SIZES[megapixels]
    height = 4 * round(math.sqrt(megapixels * 1e6 * 3 / 4) / 4)
    return 4 * round(height * 4 / 3 / 4), height


def make_photo(megapixels: float, folder: Path) -> Path:
    """A Kodak image resized to ``megapixels`` (4:3), saved as PNG in ``folder``."""
    from fromscratch.data import kodak_paths

    paths = kodak_paths()
    source = next((p for p in paths if p.stem == "kodim23"), paths[0])
    with Image.open(source) as im:
        photo = im.convert("RGB").resize(frame_size(megapixels), Image.Resampling.LANCZOS)
    path = folder / f"photo_{megapixels:g}mp.png"
    photo.save(path)
    return path


def child(codec_name: str, params: dict, operation: str, source: Path, target: Path) -> dict:
    """Run in the child: code ``source`` once and report time and peak memory."""
    from fromscratch.codecs import get_codec
    from fromscratch.data import load_image

    codec = get_codec(codec_name, **params)
    image = load_image(source) if operation == "encode" else None
    data = source.read_bytes() if operation == "decode" else None
    warm_image = np.asarray(Image.open(make_warm_source(source)).convert("RGB"))
    codec.decode(codec.encode(warm_image))  # compile kernels, load weights
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    result = codec.encode(image) if operation == "encode" else codec.decode(data)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    if operation == "encode":
        target.write_bytes(result)
    else:
        np.save(target, result)
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_bytes": peak_rss_bytes()}


def peak_rss_bytes() -> int:
    """Peak resident set of this process: ``VmHWM`` of ``/proc/self/status`` on Linux.

    Not ``ru_maxrss``: a child started with ``vfork`` (as ``subprocess`` does) inherits its
    parent's peak in ``ru_maxrss`` at ``exec``, while ``VmHWM`` belongs to the new program alone.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (less sensitive than wall time to
    other processes sharing the cores; BLAS threads waiting for work count too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_warm_source(source: Path) -> Path:
    """The 64 x 64 warm-up image saved beside the test photos."""
    return source.parent / "warm.png"


def run_child(codec_name: str, params: dict, operation: str, source: Path,
              target: Path, threads: int | None = None) -> dict:
    command = [sys.executable, __file__, "--child", codec_name, json.dumps(params), operation,
               str(source), str(target)]
    env = dict(os.environ)
    if threads:
        env.update({name: str(threads) for name in
                    ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS")})
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{codec_name} {operation} failed ({done.returncode}):\n"
                           f"{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_codec(spec: str) -> tuple[str, dict]:
    """``name`` or ``name:quality`` -> (name, params)."""
    name, _, quality = spec.partition(":")
    return name, ({"quality": int(quality)} if quality else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.5, 3.0, 12.0],
                        help="megapixels of the 4:3 test photos")
    parser.add_argument("--codecs", nargs="+", default=["balle2017:2", "balle2018:2"],
                        help="learned codecs as name or name:quality")
    parser.add_argument("--references", nargs="*", default=["pillow-jpeg", "pillow-webp"])
    parser.add_argument("--repeat", type=int, default=1, help="children per measurement; the "
                        "fastest time and the largest peak are kept")
    parser.add_argument("--threads", type=int, default=None, help="BLAS/Numba threads of the "
                        "children (default: the libraries' own choice)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, params, operation, source, target = args.child
        print(json.dumps(child(name, json.loads(params), operation, Path(source), Path(target))))
        return

    rows = []
    codecs = [parse_codec(spec) for spec in args.codecs + args.references]
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        folder = Path(tmp)
        Image.open(make_photo(0.5, folder)).crop((0, 0, 64, 64)).save(folder / "warm.png")
        for name, params in codecs:  # fill Numba's disk cache: no child measures a compilation
            run_child(name, params, "encode", folder / "warm.png", folder / "warm.bin")
        for megapixels in args.sizes:
            photo = make_photo(megapixels, folder)
            width, height = Image.open(photo).size
            for name, params in codecs:
                stream = folder / f"{name}.bin"
                row = {"codec": name + (f" q{params['quality']}" if params else ""),
                       "size": f"{width}x{height}", "megapixels": width * height / 1e6}
                for operation, source, target in (("encode", photo, stream),
                                                  ("decode", stream, folder / "decoded.npy")):
                    runs = [run_child(name, params, operation, source, target, args.threads)
                            for _ in range(args.repeat)]
                    row[f"{operation}_peak_mb"] = max(r["peak_bytes"] for r in runs) / 1e6
                    row[f"{operation}_s_per_mp"] = (min(r["seconds"] for r in runs)
                                                    / row["megapixels"])
                row["bpp"] = 8 * stream.stat().st_size / (width * height)
                rows.append(row)
                print(f"{row['codec']:>16} {row['size']:>9}  "
                      f"encode {row['encode_peak_mb']:7.0f} MB {row['encode_s_per_mp']:6.3f} s/MP"
                      f"   decode {row['decode_peak_mb']:7.0f} MB {row['decode_s_per_mp']:6.3f} "
                      f"s/MP   {row['bpp']:.3f} bpp", flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "memory.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print("\n| codec | size | encode peak MB | encode s/MP | decode peak MB | decode s/MP | bpp |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['codec']} | {r['size']} | {r['encode_peak_mb']:.0f} | "
              f"{r['encode_s_per_mp']:.3f} | {r['decode_peak_mb']:.0f} | "
              f"{r['decode_s_per_mp']:.3f} | {r['bpp']:.3f} |")


if __name__ == "__main__":
    main()
