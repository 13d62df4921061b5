"""Rate-distortion measurement: run codecs over images, average per setting, tabulate and plot.

A codec is judged by two numbers at once: how many bits it spends (bits per pixel, from the real
byte count) and how much it damages the image (PSNR, MS-SSIM). Sweeping a codec's quality setting
traces its *rate-distortion curve*; a better codec's curve lies up and to the left.

Averages follow the convention of CompressAI's published Kodak results: for each setting, the
mean bpp over the images and the mean PSNR (the mean of per-image PSNRs in dB, not the PSNR of the
mean MSE), so our curves can be plotted beside published ones.

Timings are wall-clock seconds of ``encode`` and ``decode`` on this machine, after one untimed
warm-up call per codec setting so that Numba's compilation is not counted.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import metrics
from .codecs import codec_class, get_codec
from .data import REPO_ROOT, load_image

__all__ = [
    "bd_against",
    "curve",
    "equal_quality_ratio",
    "format_table",
    "load_published",
    "measure",
    "measure_codecs",
    "plot_rd",
    "published_results_path",
    "rate_at",
    "rd_curve",
    "save_csv",
    "save_json",
    "save_rd_figure",
    "setting_label",
    "summarize",
    "warm_up",
]


def setting_label(params: dict) -> str:
    """A short text for a parameter set, e.g. ``quality=75`` (``default`` when empty)."""
    return ",".join(f"{k}={v}" for k, v in params.items()) or "default"


def _named_images(images) -> list[tuple[str, np.ndarray]]:
    named = []
    for i, item in enumerate(images):
        if isinstance(item, tuple):
            named.append((str(item[0]), item[1]))
        elif isinstance(item, (str, os.PathLike)):
            named.append((Path(item).stem, load_image(item)))
        else:
            named.append((f"image{i:02d}", item))
    return named


def _ms_ssim_or_nan(a: np.ndarray, b: np.ndarray) -> float:
    # MS-SSIM's five scales need images over 160 pixels on the short side.
    try:
        return metrics.ms_ssim(a, b)
    except ValueError:
        return math.nan


def warm_up(codec, image: np.ndarray) -> None:
    """One untimed encode/decode of a small crop, so that JIT compilation is not timed."""
    codec.decode(codec.encode(image[:64, :64]))


def measure(codec, name: str, image: np.ndarray, setting: str = "") -> tuple[dict, np.ndarray]:
    """Encode and decode one image with a codec instance; returns ``(row, decoded image)``.

    The row holds ``codec, reference, setting, image, bytes, bpp, psnr, ms_ssim, enc_s, dec_s``;
    ``setting`` labels the row (default: the codec's parameters that differ from their defaults).
    """
    if not setting:
        setting = setting_label({k: v for k, v in codec.params.items()
                                 if v != codec.parameters[k].default})
    start = time.perf_counter()
    data = codec.encode(image)
    encoded = time.perf_counter()
    decoded = codec.decode(data)
    done = time.perf_counter()
    if decoded.shape != image.shape:
        raise RuntimeError(f"{codec.name} decoded {image.shape} as {decoded.shape}")
    row = {
        "codec": codec.name,
        "reference": not codec.from_scratch,
        "setting": setting,
        "image": name,
        "bytes": len(data),
        "bpp": metrics.bpp(data, image.shape),
        "psnr": metrics.psnr(image, decoded),
        "ms_ssim": _ms_ssim_or_nan(image, decoded),
        "enc_s": encoded - start,
        "dec_s": done - encoded,
    }
    return row, decoded


def rd_curve(codec: str, images, settings=None, progress: bool = True) -> list[dict]:
    """Encode and decode every image at every setting; one row per (image, setting).

    Parameters
    ----------
    codec : str
        Registered codec name.
    images : list
        Images as ``(name, uint8 array)`` pairs, bare arrays, or file paths.
    settings : list of dict, optional
        Parameter sets to sweep (default: the codec's own ``settings``).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    list of dict
        One :func:`measure` row per image and setting.
    """
    settings = list(codec_class(codec).settings if settings is None else settings)
    instances = [(setting_label(params), get_codec(codec, **params)) for params in settings]
    return measure_codecs(codec, instances, images, progress=progress)


def ms_ssim_db(value: float) -> float:
    """MS-SSIM on a decibel scale, ``-10 log10(1 - MS-SSIM)``: 0.9 -> 10 dB, 0.99 -> 20 dB.

    Near 1 the raw index hides large differences (0.990 and 0.995 are 3 dB apart); on this
    scale BD-rates in MS-SSIM are computed like those in PSNR. ``inf`` for 1, NaN stays NaN.
    """
    if math.isnan(value):
        return math.nan
    return math.inf if value >= 1 else -10 * math.log10(1 - value)


def measure_codecs(label: str, codecs, images, *, detail: bool = False,
                   progress: bool = False) -> list[dict]:
    """Measure codec *instances*, one :func:`measure` row per image and setting, labelled
    ``label``: what :func:`rd_curve` does for a registered codec, open to instances that are not
    in the registry (a model from an explicit weight file, say).

    Parameters
    ----------
    label : str
        The rows' ``codec`` (what tables and plots call it).
    codecs : iterable of (str, codec)
        ``(setting label, codec instance)`` pairs, lowest rate first.
    images : list
        As for :func:`rd_curve`.
    detail : bool
        Add ``detail``, :func:`fromscratch.metrics.detail_ratio` of each decoded image.
    progress : bool
        Show a tqdm progress bar.
    """
    codecs, named = list(codecs), _named_images(images)
    rows = []
    with tqdm(total=len(codecs) * len(named), desc=label, disable=not progress,
              leave=False) as bar:
        for setting, codec in codecs:
            warm_up(codec, named[0][1])
            for name, image in named:
                row, decoded = measure(codec, name, image, setting)
                row["codec"] = label
                if detail:
                    row["detail"] = metrics.detail_ratio(decoded, image)
                rows.append(row)
                bar.update()
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Average rows per (codec, setting): mean bytes, bpp, PSNR, MS-SSIM and times (and the
    detail ratio where every row of the group has one), and ``ms_ssim_db``, the mean MS-SSIM
    in decibels (:func:`ms_ssim_db`).

    PSNR stays ``inf`` for lossless settings. Settings keep the order they first appear in.
    """
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["codec"], row["setting"])].append(row)
    summary = []
    for (codec, setting), group in groups.items():
        entry = {"codec": codec, "reference": group[0]["reference"], "setting": setting,
                 "images": len(group)}
        keys = ("bytes", "bpp", "psnr", "ms_ssim", "enc_s", "dec_s")
        if all("detail" in row for row in group):
            keys += ("detail",)
        for key in keys:
            entry[key] = float(np.mean([row[key] for row in group]))
        entry["ms_ssim_db"] = ms_ssim_db(entry["ms_ssim"])
        summary.append(entry)
    return summary


def format_table(rows: list[dict]) -> str:
    """A plain-text table of summary (or per-image) rows for printing."""
    columns = [
        ("codec", "{}"), ("setting", "{}"), ("bytes", "{:.0f}"), ("bpp", "{:.3f}"),
        ("psnr", "{:.2f}"), ("ms_ssim", "{:.4f}"), ("enc_s", "{:.1f}"), ("dec_s", "{:.1f}"),
    ]
    headers = ["codec", "setting", "bytes", "bpp", "PSNR dB", "MS-SSIM", "enc ms", "dec ms"]
    body = []
    for row in rows:
        cells = []
        for key, fmt in columns:
            value = row[key] * 1000 if key in ("enc_s", "dec_s") else row[key]
            text = fmt.format(value)
            if key == "codec" and row.get("reference"):
                text += " (ref)"
            cells.append(text)
        body.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i < 2 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(headers, widths, strict=True)))]
    lines.append("  ".join("-" * w for w in widths))
    for cells in body:
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(cells, widths, strict=True))))
    return "\n".join(lines)


def save_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """Write rows (per image or summary) as CSV."""
    if not rows:
        raise ValueError("no rows to save")
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def save_json(rows: list[dict], path: str | os.PathLike) -> None:
    """Write rows as a JSON list (infinite PSNR written as the string "inf")."""
    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value

    with open(path, "w") as handle:
        json.dump([{k: clean(v) for k, v in row.items()} for row in rows], handle, indent=1)


def published_results_path() -> Path | None:
    """``../shared/reference/kodak_published.csv`` beside the repository, when it is there."""
    path = REPO_ROOT.parent / "shared" / "reference" / "kodak_published.csv"
    return path if path.is_file() else None


def load_published(path: str | os.PathLike | None = None, metric: str = "psnr") -> dict:
    """Published Kodak RD points: ``{curve name: (bpp array, value array)}`` for one metric.

    ``metric`` is ``"psnr"`` or ``"ms_ssim"`` (the CSV's ``psnr_rgb`` / ``ms_ssim_rgb``). These are
    other people's figures, to be plotted *beside* our measurements and labelled as published.
    Returns an empty dict when no file is found.
    """
    path = published_results_path() if path is None else Path(path)
    if path is None:
        return {}
    wanted = {"psnr": "psnr_rgb", "ms_ssim": "ms_ssim_rgb"}[metric]
    curves: dict[str, list[tuple[float, float]]] = defaultdict(list)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["metric"] == wanted:
                curves[row["curve"]].append((float(row["bpp"]), float(row["value"])))
    return {
        name: tuple(np.array(v) for v in zip(*sorted(points), strict=True))
        for name, points in curves.items()
    }


def plot_rd(summary: list[dict], metric: str = "psnr", ax=None, published: dict | None = None,
            title: str | None = None):
    """Plot mean bpp against mean ``metric`` per codec; returns the matplotlib Axes.

    From-scratch codecs are drawn as solid lines, reference codecs dashed, published curves (from
    :func:`load_published`) dotted with "(published)" in their label. Lossless points (infinite
    PSNR) have no place on a distortion axis and are left out; the tables report them.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    by_codec: dict[str, list[dict]] = defaultdict(list)
    for row in summary:
        if math.isfinite(row["psnr"]) and math.isfinite(row[metric]):
            by_codec[row["codec"]].append(row)
    for codec, points in by_codec.items():
        points = sorted(points, key=lambda r: r["bpp"])
        reference = points[0]["reference"]
        ax.plot([p["bpp"] for p in points], [p[metric] for p in points],
                "o--" if reference else "o-", markersize=3,
                label=f"{codec} (reference)" if reference else codec)
    for name, (bpp, value) in (published or {}).items():
        ax.plot(bpp, value, ":", linewidth=1.2, alpha=0.7, label=f"{name} (published)")
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel({"psnr": "PSNR (dB, RGB)", "ms_ssim": "MS-SSIM (RGB)"}.get(metric, metric))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return ax


def curve(summary: list[dict], codec: str, metric: str = "psnr") -> tuple[list, list]:
    """``(bpp, metric)`` lists of one codec's :func:`summarize` rows, in sweep order."""
    points = [row for row in summary if row["codec"] == codec]
    return [p["bpp"] for p in points], [p[metric] for p in points]


def rate_on_curve(bpps, values, value: float) -> float:
    """The rate at which a curve ``(bpps, values)`` reaches ``value`` (of PSNR, MS-SSIM dB, ...):
    linear interpolation in log-rate between its two points around ``value``.

    NaN when ``value`` lies outside the curve's range (no extrapolation) or the curve is empty.
    The curve must be monotonic in ``values``, as rate-distortion curves are; its points may
    come in any order.
    """
    order = np.argsort(values)
    values = np.asarray(values, dtype=np.float64)[order]
    log_bpps = np.log(np.asarray(bpps, dtype=np.float64)[order])
    if not values.size or not values[0] <= value <= values[-1]:
        return math.nan
    return float(np.exp(np.interp(value, values, log_bpps)))


def rate_at(summary: list[dict], codec: str, metric: str, value: float) -> float:
    """:func:`rate_on_curve` of ``codec``'s curve in ``metric``: the rate (bpp) at which it
    reaches ``metric == value``; NaN outside its range. ValueError if the codec has no points.
    """
    bpps, values = curve(summary, codec, metric)
    if not bpps:
        raise ValueError(f"no points of {codec!r} in the summary")
    return rate_on_curve(bpps, values, value)


def equal_quality_ratio(summary: list[dict], tested: str, reference: str,
                        metric: str = "ms_ssim") -> list[tuple[str, float]]:
    """Bytes of ``reference`` over bytes of ``tested`` at equal ``metric``, per tested point.

    For each point of ``tested``, :func:`rate_at` of ``reference`` at the point's ``metric``
    divided by the point's bpp: 2.0 means the reference needs twice the bytes for the same
    quality. Returns ``[(setting, ratio)]``, NaN where the reference's curve does not reach.
    """
    return [(p["setting"], rate_at(summary, reference, metric, p[metric]) / p["bpp"])
            for p in summary if p["codec"] == tested]


def bd_against(summary: list[dict], anchor: str, codecs, metric: str = "psnr") -> dict:
    """Bjøntegaard deltas of each codec against ``anchor`` (``metrics.bd_rate``/``bd_psnr``).

    Returns ``{codec: (bd_rate_percent, bd_metric)}``, or ``{codec: reason}`` (a string) where the
    two curves do not overlap enough to give one.
    """
    from . import metrics

    results = {}
    for codec in codecs:
        both = (*curve(summary, anchor, metric), *curve(summary, codec, metric))
        try:
            results[codec] = (metrics.bd_rate(*both), metrics.bd_psnr(*both))
        except ValueError as exc:
            results[codec] = str(exc)
    return results


def save_rd_figure(summary: list[dict], path, what: str, *, published=(), max_bpp=None) -> None:
    """PSNR and MS-SSIM RD plots side by side, titled e.g. "PSNR on 24 Kodak images", saved.

    ``published`` names curves of :func:`load_published` to draw beside ours (labelled as such);
    ``max_bpp`` limits the rate axis.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, metric in zip(axes, ("psnr", "ms_ssim"), strict=True):
        curves = {name: points for name, points in load_published(metric=metric).items()
                  if name in published} if published else None
        plot_rd(summary, metric, ax=ax, published=curves, title=f"{metric.upper()} {what}")
        if max_bpp is not None:
            ax.set_xlim(0, max_bpp)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
