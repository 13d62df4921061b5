"""The closing benchmark: every era's headline claim beside what this package measures, one run.

Each chapter of the book ends by measuring its own codec. This module puts all of them on the
same images in the same run, and then asks of each era the question its authors answered in
their paper: did the claim hold here? A claim is judged by a rule stated next to it
(:data:`RULES`), applied to the measured numbers, so the verdict moves when the numbers do:

* **reproduced** - the measured figure meets the claim;
* **partly** - it points the same way but falls short (the rule says by how much);
* **not** - it does not hold here; the table says why (for a learned codec: its training
  compute and size, from the weight file).

What is measured (:func:`measure`), all on the same Kodak images:

* the RD curve (bpp, PSNR, MS-SSIM, encode/decode seconds) of every image codec: our ``jpeg``,
  the patch codecs of 1987 (``mlp1987``, ``klt``, ``dct-zonal``), the learned ``balle2017``,
  ``balle2018`` and ``gan2017`` (every shipped quality), the lossless ``huffman`` and
  ``mlp-predictive``, and the references (Pillow JPEG down to quality 1, WebP, JPEG 2000,
  AVIF, PNG, and HEVC intra when ``pillow-heif`` is installed);
* Huffman's bound, per image: the average code length of the DPCM residuals against their
  entropy;
* the video codecs ``mc-dct`` and ``intra-jpeg`` on the clips, plus any peers the caller passes
  (``benchmarks/closing_bench.py`` adds ffmpeg's MPEG-1: the package itself never calls ffmpeg);
* the training compute behind every learned codec, read from the weight files' command chains.

The results are one JSON-able dict; ``benchmarks/closing_bench.py`` stores it in
``data/results/closing.json`` (small: means per setting), which chapter 07 reads in its fast mode.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

from . import bench, metrics
from .codecs import codec_names
from .codecs.balle2017 import codec as balle2017_codec
from .codecs.balle2018 import codec as balle2018_codec
from .codecs.video import get_video_codec, video_codec_for_data
from .data import REPO_ROOT, load_video
from .entropy import huffman_codes
from .nn.io import load_weights
from .training.common import chain_steps
from .transforms import dpcm

__all__ = [
    "CLAIMED_RATIOS",
    "JPEG_LOW_QUALITIES",
    "RESULTS_PATH",
    "RULES",
    "bd_verdict",
    "claims",
    "curve",
    "geometric_mean_ratio",
    "huffman_bound",
    "image_sweeps",
    "load_results",
    "measure",
    "ratio_verdict",
    "save_results",
    "speeds",
    "training_compute",
    "video_curve",
]

RESULTS_PATH = REPO_ROOT / "data" / "results" / "closing.json"
#: Pillow JPEG down to quality 1, so its curve reaches the learned codecs' lowest rates (quality 2
#: is left out: Pillow's tables at 1 and 2 clip to the same values, identical bytes).
JPEG_LOW_QUALITIES = (1, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 60, 75, 90, 95)
#: Rippel & Bourdev (2017): bytes of the reference over theirs at equal MS-SSIM.
CLAIMED_RATIOS = {"pillow-jpeg": 2.5, "pillow-jpeg2000": 2.5, "pillow-webp": 2.0,
                  "pillow-heif": 1.7}
VIDEO_SWEEPS = {"mc-dct": (15, 25, 35, 50, 65, 80), "intra-jpeg": (20, 35, 50, 65, 80, 90)}
#: The verdict rules, as stated in chapter 07 (the thresholds are the code's).
RULES = {
    "bound": "reproduced if 0 <= L - H < 1 on every image, else not",
    "same": "reproduced if the BD-rate is within ±2 %, partly if within ±10 %, else not",
    "approx": "reproduced if BD-rate <= +10 %, partly if <= +50 %, else not",
    "beats": "reproduced if BD-rate < 0 in PSNR and MS-SSIM, partly if in one, else not",
    "near": "reproduced if BD-rate <= +5 %, partly if <= +25 %, else not",
    "saves": "reproduced if BD-rate <= the target, partly if < 0, else not",
    "ratio": "reproduced if the bytes ratio >= the claim, partly if > 1, else not",
}


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------
def image_sweeps(learned: bool = True) -> dict[str, list[dict] | None]:
    """Codec name -> settings to sweep (None: the codec's own), for every installed codec."""
    sweeps: dict[str, list[dict] | None] = {
        "jpeg": None, "pillow-jpeg": [{"quality": q} for q in JPEG_LOW_QUALITIES],
        "pillow-webp": None, "pillow-jpeg2000": None,
        "pillow-avif": [{"quality": q} for q in (10, 20, 30, 40, 50, 60)],
        "pillow-heif": [{"quality": q, "chroma": "444"} for q in (10, 18, 26, 34, 42)],
        "mlp1987": None, "klt": None, "dct-zonal": None,
        "huffman": [{"predictor": "med"}], "mlp-predictive": [{"predictor": "mlp"}],
        "pillow-png": None,
    }
    if learned:
        sweeps["balle2017"] = [{"quality": q} for q in balle2017_codec.available_qualities()]
        sweeps["balle2018"] = [{"quality": q} for q in balle2018_codec.available_qualities()]
        sweeps["gan2017"] = [{"quality": q}
                             for q in balle2017_codec.available_qualities("gan2017")]
    installed = set(codec_names())
    return {name: s for name, s in sweeps.items() if name in installed and s != []}


def huffman_bound(images) -> list[dict]:
    """Per image: entropy H and Huffman average length L of its MED residuals (3 channels pooled
    as the mean over channels), bits/symbol."""
    rows = []
    for name, image in images:
        residuals = dpcm.residuals(image, "med")
        planes = [residuals] if residuals.ndim == 2 else np.moveaxis(residuals, -1, 0)
        h, length = [], []
        for plane in planes:
            counts = huffman_codes.symbol_counts(plane.ravel(), 256)
            lengths = huffman_codes.code_lengths(counts)
            h.append(huffman_codes.entropy(counts))
            length.append(float((counts * lengths).sum() / counts.sum()))
        rows.append({"image": name, "entropy": float(np.mean(h)),
                     "average_length": float(np.mean(length)),
                     "redundancy_max": float(np.max(np.subtract(length, h))),
                     "redundancy_min": float(np.min(np.subtract(length, h)))})
    return rows


def video_curve(frames, fps, codec: str, qualities, label: str | None = None,
                **params) -> list[dict]:
    """A video codec's RD points: bits per pixel per frame, mean RGB PSNR, and its seconds.

    ``frames`` is uint8 (T, H, W, 3); one row per quality with ``codec`` (``label`` or the
    name), ``setting``, ``bpp``, ``psnr``, ``enc_s``, ``dec_s`` and ``megapixels`` (T·H·W/1e6).
    """
    rows = []
    warm = get_video_codec(codec, **params)
    warm.decode(warm.encode(frames[:2], fps=fps))  # compile the kernels before timing
    for quality in qualities:
        instance = get_video_codec(codec, quality=quality, **params)
        start = time.perf_counter()
        data = instance.encode(frames, fps=fps)
        encoded = time.perf_counter()
        decoded = video_codec_for_data(data).decode(data)
        done = time.perf_counter()
        rows.append({"codec": label or codec, "setting": f"quality={quality}",
                     "bpp": 8 * len(data) / frames[..., 0].size,
                     "psnr": float(np.mean([metrics.psnr(a, b)
                                            for a, b in zip(frames, decoded, strict=True)])),
                     "enc_s": encoded - start, "dec_s": done - encoded,
                     "megapixels": frames[..., 0].size / 1e6})
    return rows


def _published_bds() -> dict:
    """BD-rates computed from published curves alone (``../shared/reference``), when present."""
    pairs = {"balle2017 vs jpeg2000": ("jpeg2000 (OpenJPEG)", "balle2017 ICLR (paper)"),
             "balle2018 vs hevc": ("bpg 4:4:4 (x265)", "compressai bmshj2018-hyperprior (MSE)"),
             "balle2018 vs balle2017": ("compressai bmshj2018-factorized (MSE)",
                                        "compressai bmshj2018-hyperprior (MSE)")}
    out = {}
    for metric in ("psnr", "ms_ssim"):
        curves = bench.load_published(metric=metric)
        for key, (anchor, test) in pairs.items():
            if anchor in curves and test in curves:
                with contextlib.suppress(ValueError):
                    out[f"{key} {metric}"] = metrics.bd_rate(*curves[anchor], *curves[test])
    return out


def _speed_rows(rows: list[dict], kind: str) -> list[dict]:
    totals: dict[str, list[float]] = {}
    for row in rows:
        mp = row.get("megapixels") or row["pixels"] / 1e6
        t = totals.setdefault(row["codec"], [0.0, 0.0, 0.0])
        t[0] += mp
        t[1] += row["enc_s"]
        t[2] += row["dec_s"]
    return [{"codec": c, "kind": kind, "megapixels": mp, "encode_mp_s": mp / enc,
             "decode_mp_s": mp / dec} for c, (mp, enc, dec) in totals.items()]


def measure(images, clips=("carphone", "bikes"), *, video_data=None, max_frames=None,
            video_peers=None, learned: bool = True, progress: bool = True) -> dict:
    """Measure everything the closing table needs; returns the results dict.

    Parameters
    ----------
    images : list of (str, ndarray)
        Named uint8 images (the 24 Kodak images for the stored table).
    clips : sequence of str
        Video clips by name (``data.load_video``); empty for none.
    video_data, max_frames
        Where the clips are and how many frames to use (None: all).
    video_peers : dict, optional
        ``{label: function(frames, fps) -> rows}`` for video codecs outside the package (rows as
        :func:`video_curve`'s, timings optional).
    learned : bool
        Include the learned codecs (False: the quick classical part only).
    """
    start = time.perf_counter()
    pixels = {name: int(image.shape[0] * image.shape[1]) for name, image in images}
    rows = []
    for codec, settings in image_sweeps(learned).items():
        for row in bench.rd_curve(codec, images, settings, progress=progress):
            row["pixels"] = pixels[row["image"]]
            rows.append(row)
    video, shapes = [], {}
    for clip in clips:
        frames, fps = load_video(clip, video_data, max_frames)
        shapes[clip] = list(frames.shape)
        for codec, qualities in VIDEO_SWEEPS.items():
            for row in video_curve(frames, fps, codec, qualities):
                video.append({"clip": clip, **row})
        for run in (video_peers or {}).values():
            video += [{"clip": clip, **row} for row in run(frames, fps)]
    results = {
        "meta": {"images": len(images), "clips": shapes,
                 "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "machine": f"{platform.machine()}, {platform.python_implementation()} "
                            f"{platform.python_version()}",
                 "seconds": None},
        "rd": bench.summarize(rows),
        "speed": _speed_rows(rows, "image") + _speed_rows(
            [r for r in video if "enc_s" in r], "video"),
        "huffman": huffman_bound(images),
        "video": video,
        "training": training_compute(),
        "published": _published_bds(),
    }
    results["meta"]["seconds"] = round(time.perf_counter() - start, 1)
    return results


def training_compute(weights_dir: str | Path | None = None) -> list[dict]:
    """One row per shipped weight file: optimizer steps in all, batch, crop, pixels seen.

    Steps come from the recorded command chain (:func:`training.common.chain_steps`), or from
    the ``steps`` hyperparameter (plus quantisation-aware ``qat_steps``) for single runs.
    """
    folder = Path(weights_dir) if weights_dir else balle2017_codec.WEIGHTS_DIR
    rows = []
    for path in sorted(folder.glob("*.npz")):
        hyper = load_weights(path).hyperparams
        steps = chain_steps(hyper.get("commands", []))
        if not steps:
            steps = int(hyper.get("steps", 0)) + int(hyper.get("qat_steps", 0) or 0)
        batch, crop = hyper.get("batch"), hyper.get("crop")  # crops the whole model sees
        pixels = steps * batch * crop * crop if steps and batch and crop else None
        rows.append({"file": path.name, "kind": hyper.get("kind", path.stem.split("_")[0]),
                     "steps": steps, "batch": batch, "crop": crop,
                     "n": hyper.get("n"), "m": hyper.get("m"),
                     "megapixels_seen": round(pixels / 1e6) if pixels else None,
                     "seconds": hyper.get("seconds")})
    return rows


def save_results(results: dict, path: str | Path = RESULTS_PATH) -> None:
    """Write the results as JSON (floats rounded to 6 significant digits; inf as "inf")."""
    def clean(value):
        if isinstance(value, float):
            return str(value) if not math.isfinite(value) else float(f"{value:.6g}")
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, (np.floating, np.integer, np.bool_)):
            return clean(value.item())
        return value

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(results), indent=0) + "\n")


def load_results(path: str | Path = RESULTS_PATH) -> dict:
    """Read results written by :func:`save_results` ("inf" back to a float)."""
    def revive(value):
        if value in ("inf", "-inf", "nan"):
            return float(value)
        if isinstance(value, dict):
            return {k: revive(v) for k, v in value.items()}
        if isinstance(value, list):
            return [revive(v) for v in value]
        return value

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no stored closing results; run "
                                "python benchmarks/closing_bench.py")
    return revive(json.loads(path.read_text()))


# --------------------------------------------------------------------------------------------
# Judging
# --------------------------------------------------------------------------------------------
def geometric_mean_ratio(ratios) -> float:
    """The geometric mean of the finite bytes ratios (NaN if none). Ratios average
    multiplicatively, as BD-rate averages log-rates: one point where the reference is at its
    worst must not carry a verdict."""
    finite = [r for r in ratios if math.isfinite(r)]
    return float(np.exp(np.mean(np.log(finite)))) if finite else math.nan


def ratio_verdict(measured: float, claimed: float) -> str:
    """Rule ``ratio``: reproduced if ``measured >= claimed``, partly if > 1, else not."""
    if not math.isfinite(measured):
        return "not measurable"
    if measured >= claimed:
        return "reproduced"
    return "partly" if measured > 1 else "not"


def bd_verdict(rule: str, bd: float, target: float | None = None) -> str:
    """Rules ``same``, ``approx``, ``near`` and ``saves`` (see :data:`RULES`) on a BD-rate (%)."""
    if not math.isfinite(bd):
        return "not measurable"
    if rule == "same":
        return "reproduced" if abs(bd) <= 2 else "partly" if abs(bd) <= 10 else "not"
    if rule == "approx":
        return "reproduced" if bd <= 10 else "partly" if bd <= 50 else "not"
    if rule == "near":
        return "reproduced" if bd <= 5 else "partly" if bd <= 25 else "not"
    if rule == "saves":
        return "reproduced" if bd <= target else "partly" if bd < 0 else "not"
    raise ValueError(f"unknown rule {rule!r}")


def curve(summary: list[dict], codec: str, metric: str = "psnr") -> tuple[list, list]:
    """``(bpp, value)`` lists of one codec's lossy points; ``metric`` is ``psnr``, ``ms_ssim``
    or ``ms_ssim_db`` (``-10 log10(1 - MS-SSIM)``, the scale Rippel & Bourdev compare on)."""
    points = [r for r in summary if r["codec"] == codec and math.isfinite(r["psnr"])]
    bpps = [p["bpp"] for p in points]
    if metric == "ms_ssim_db":
        return bpps, [bench.ms_ssim_db(p["ms_ssim"]) for p in points]
    return bpps, [p[metric] for p in points]


def _bd(summary, anchor, test, metric="psnr") -> float:
    try:
        return metrics.bd_rate(*curve(summary, anchor, metric), *curve(summary, test, metric))
    except (ValueError, ZeroDivisionError):
        return math.nan


def _compute(training: list[dict], kind: str) -> str:
    prefix = f"{kind}_q"  # the shipped qualities, not e.g. an ablation's files
    rows = [r for r in training if r["file"].startswith(prefix)
            and r["file"].removeprefix(prefix).removesuffix(".npz").isdigit()]
    if not rows:
        return ""
    steps = ", ".join(f"{r['steps']:,}" for r in rows)
    size = ""
    if rows[0].get("n"):
        shapes = [(r["n"], r["m"]) for r in rows]
        size = (f", N = {shapes[0][0]}, M = {shapes[0][1]}" if len(set(shapes)) == 1
                else ", N / M = " + ", ".join(f"{n} / {m}" for n, m in shapes))
    return f"trained here on a CPU: {steps} steps per model{size}"


def _pct(x: float) -> str:
    return f"{x:+.1f} %" if math.isfinite(x) else "n/a"


def claims(results: dict) -> list[dict]:
    """The closing table: one row per era's claim with our figure, the published one, a verdict.

    Every verdict comes from :func:`bd_verdict` / :func:`ratio_verdict` (or the Huffman bound)
    applied to ``results``; nothing here is a stored conclusion.
    """
    rd, published, training = results["rd"], results.get("published", {}), results["training"]
    have = {r["codec"] for r in rd}
    table = []

    def add(era, claim, ours, paper, verdict, rule, why=""):
        table.append({"era": era, "claim": claim, "ours": ours, "published": paper,
                      "verdict": verdict, "rule": RULES[rule], "why": why})

    huff = results["huffman"]
    if huff:
        gap = [r["average_length"] - r["entropy"] for r in huff]
        worst = max(r["redundancy_max"] for r in huff)
        ok = min(r["redundancy_min"] for r in huff) >= 0 and worst < 1
        add("1952 Huffman", "optimal prefix code: H <= L < H + 1",
            f"L - H = {np.mean(gap):.3f} bit/symbol (max {worst:.3f}) "
            f"on the MED residuals of {len(huff)} images", "H <= L < H + 1 (theorem)",
            "reproduced" if ok else "not", "bound")
    if {"jpeg", "pillow-jpeg"} <= have:
        bd = _bd(rd, "pillow-jpeg", "jpeg")
        add("1992 JPEG", "our baseline JPEG codes as libjpeg does",
            f"BD-rate vs Pillow (libjpeg-turbo) {_pct(bd)}", "libjpeg's own curve (0 %)",
            bd_verdict("same", bd), "same",
            "the standard's tables and colour conversion, as libjpeg uses them")
    if {"mlp1987", "klt"} <= have:
        bd = _bd(rd, "klt", "mlp1987")
        add("1987 bottleneck MLP", "a bottleneck MLP learns what PCA (the KLT) does",
            f"BD-rate vs KLT {_pct(bd)}; vs DCT zonal {_pct(_bd(rd, 'dct-zonal', 'mlp1987'))}; "
            f"vs JPEG {_pct(_bd(rd, 'pillow-jpeg', 'mlp1987'))}",
            "same subspace as PCA (Baldi & Hornik 1989)", bd_verdict("approx", bd), "approx",
            "it spans the KLT's subspace but spreads the variance over all k units, which "
            "costs bits after quantisation (chapter 03)" if bd > 10 else "")
    lossless = {r["codec"]: r["bpp"] for r in rd if not math.isfinite(r["psnr"])}
    if {"mlp-predictive", "pillow-png"} <= lossless.keys():
        ratio = lossless["mlp-predictive"] / lossless["pillow-png"]
        bd = 100 * (ratio - 1)
        add("1990s MLP predictive coding", "a learned nonlinear predictor beats classic lossless "
            "coding", f"{lossless['mlp-predictive']:.2f} bpp vs PNG {lossless['pillow-png']:.2f} "
            f"({_pct(bd)})", "no single figure (target here: -10 % against PNG)",
            bd_verdict("saves", bd, -10), "saves")
    if {"balle2017", "pillow-jpeg2000"} <= have:
        psnr_bd = _bd(rd, "pillow-jpeg2000", "balle2017")
        msssim_bd = _bd(rd, "pillow-jpeg2000", "balle2017", "ms_ssim_db")
        wins = sum(x < 0 for x in (psnr_bd, msssim_bd))
        paper = (f"{_pct(published['balle2017 vs jpeg2000 psnr'])} PSNR (published curves)"
                 if "balle2017 vs jpeg2000 psnr" in published else "beats JPEG 2000")
        add("2017 Ballé et al.", "end-to-end optimized codec beats JPEG 2000",
            f"BD-rate vs JPEG 2000 {_pct(psnr_bd)} PSNR, {_pct(msssim_bd)} MS-SSIM", paper,
            ("reproduced", "partly", "not")[2 - wins], "beats",
            "" if wins == 2 else _compute(training, "balle2017"))
    if {"balle2018", "pillow-heif"} <= have:
        bd = _bd(rd, "pillow-heif", "balle2018")
        paper = (f"{_pct(published['balle2018 vs hevc psnr'])} PSNR (published curves vs BPG)"
                 if "balle2018 vs hevc psnr" in published else "about HEVC (BPG)")
        verdict = bd_verdict("near", bd)
        add("2018 scale hyperprior", "rate-distortion about that of HEVC intra (BPG)",
            f"BD-rate vs HEVC (x265, 4:4:4) {_pct(bd)} PSNR", paper, verdict, "near",
            "" if verdict == "reproduced" else _compute(training, "balle2018"))
    if {"balle2018", "balle2017"} <= have:
        bd = _bd(rd, "balle2017", "balle2018")
        target = published.get("balle2018 vs balle2017 psnr", -10.0)
        verdict = bd_verdict("saves", bd, target / 2)
        add("2018 scale hyperprior", "side information saves rate over the factorized prior",
            f"BD-rate vs balle2017 {_pct(bd)} PSNR",
            f"{_pct(target)} PSNR (published curves; target half of it)", verdict, "saves",
            "" if verdict == "reproduced" else _compute(training, "balle2018"))
    if "gan2017" in have:
        bpps, db = curve(rd, "gan2017", "ms_ssim_db")
        for reference, claimed in CLAIMED_RATIOS.items():
            if reference not in have:
                continue
            ratios = [bench.rate_on_curve(*curve(rd, reference, "ms_ssim_db"), v) / b
                      for b, v in zip(bpps, db, strict=True)]
            finite = [r for r in ratios if math.isfinite(r)]
            measured = geometric_mean_ratio(ratios)
            verdict = ratio_verdict(measured, claimed)
            if finite:
                ours = f"{measured:.2f}x" + (f" (geometric mean of {len(finite)} points)"
                                             if len(finite) > 1 else "")
                why = "" if verdict == "reproduced" else _compute(training, "gan2017")
            else:
                ours = "n/a"
                why = f"{reference}'s curve does not reach gan2017's MS-SSIM"
            add("2017 Rippel & Bourdev", f"{claimed}x fewer bytes than {reference} at equal "
                "MS-SSIM", ours, f"{claimed}x (paper)", verdict, "ratio", why)
    for clip in dict.fromkeys(r["clip"] for r in results["video"]):
        rows = [r for r in results["video"] if r["clip"] == clip]
        names = {r["codec"] for r in rows}
        for anchor, target, claim in (
                ("intra-jpeg", -55.0, "motion compensation needs a fraction of intra coding's "
                 "rate"),
                ("ffmpeg mpeg1video", 10.0, "our mc-dct codes about as well as MPEG-1")):
            if {"mc-dct", anchor} <= names:
                bd = _bd(rows, anchor, "mc-dct")
                add(f"1988-1993 motion compensation ({clip})", claim,
                    f"BD-rate vs {anchor} {_pct(bd)}", f"chapter 02b's target {target:+.0f} %",
                    bd_verdict("saves", bd, target), "saves")
    return table


def speeds(results: dict) -> list[dict]:
    """Encode and decode megapixels per second of every codec, fastest encoder first."""
    return sorted(results["speed"], key=lambda r: -r["encode_mp_s"])
