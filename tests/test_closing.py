"""The closing benchmark's pieces (chapter 07) and the README's figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fromscratch import bench, closing, figures
from fromscratch.data import sample_image
from fromscratch.training.common import chain_steps

VERDICTS = {"reproduced", "partly", "not", "not measurable"}


def test_chain_steps_counts_resumes_and_warm_starts():
    chain = [
        "python -m fromscratch train x --checkpoint a.npz --steps 9000  # reached step 700",
        "python -m fromscratch train x --checkpoint a.npz --steps 9000  # reached step 1000",
        "python -m fromscratch train x --init-from a.npz --checkpoint b.npz  # reached step 50",
        "python -m fromscratch train x --checkpoint b.npz  # reached step 80",
        "python -m fromscratch train x --init-from w.npz --checkpoint a.npz  # reached step 20",
        "python -m fromscratch train x --k 8",  # not annotated: nothing to count
    ]
    assert chain_steps(chain) == 1000 + 50 + 30 + 20
    assert chain_steps([]) == 0
    # a resume under another checkpoint name (a copied checkpoint) continues the same run
    copied = "python -m fromscratch train x --checkpoint c.npz  # reached step 1200"
    assert chain_steps([*chain[:2], copied]) == 1200


def test_rate_on_curve_interpolates_in_log_rate():
    bpps, quality = [0.1, 0.4], [20.0, 30.0]
    assert math.isclose(bench.rate_on_curve(bpps, quality, 25.0), 0.2)  # geometric midpoint
    assert math.isclose(bench.rate_on_curve(bpps[::-1], quality[::-1], 30.0), 0.4)
    assert math.isnan(bench.rate_on_curve(bpps, quality, 31.0))
    assert math.isnan(bench.rate_on_curve([], [], 25.0))


def test_ratios_average_geometrically():
    assert math.isclose(closing.geometric_mean_ratio([4.0, 1.0, math.nan]), 2.0)
    assert math.isnan(closing.geometric_mean_ratio([math.nan]))


def test_verdict_rules():
    assert closing.ratio_verdict(2.6, 2.5) == "reproduced"
    assert closing.ratio_verdict(1.2, 2.5) == "partly"
    assert closing.ratio_verdict(0.9, 2.5) == "not"
    assert closing.ratio_verdict(math.nan, 2.5) == "not measurable"
    assert closing.bd_verdict("same", -1.5) == "reproduced"
    assert closing.bd_verdict("same", 7) == "partly"
    assert closing.bd_verdict("near", 30) == "not"
    assert closing.bd_verdict("saves", -60, -55) == "reproduced"
    assert closing.bd_verdict("saves", -20, -55) == "partly"
    with pytest.raises(ValueError):
        closing.bd_verdict("maybe", 1.0)


def _results(scale: float) -> dict:
    """Synthetic results: balle2017's rate is ``scale`` times JPEG 2000's at every PSNR."""
    rd = []
    for i, psnr in enumerate((26.0, 28.0, 30.0, 32.0)):
        base = 0.15 * 1.6 ** i
        msssim = 1 - 10 ** (-(9 + i) / 10)
        rd.append({"codec": "pillow-jpeg2000", "reference": True, "bpp": base, "psnr": psnr,
                   "ms_ssim": msssim})
        rd.append({"codec": "balle2017", "reference": False, "bpp": base * scale, "psnr": psnr,
                   "ms_ssim": msssim})
    return {"rd": rd, "huffman": [], "video": [], "training": [], "published": {}}


def test_claims_follow_the_numbers():
    better = closing.claims(_results(0.8))
    worse = closing.claims(_results(1.3))
    assert [r["verdict"] for r in better] == ["reproduced"]
    assert [r["verdict"] for r in worse] == ["not"]
    assert "-20.0 %" in better[0]["ours"]


def test_training_compute_names_every_shape():
    rows = [{"file": f"balle2017_q{q}.npz", "steps": 1000 * q, "n": 64, "m": m}
            for q, m in ((1, 96), (2, 96), (3, 192))]
    rows.append({"file": "balle2017_ablation_q1.npz", "steps": 5, "n": 8, "m": 8})
    assert closing._compute(rows, "balle2017") == (
        "trained here on a CPU: 1,000, 2,000, 3,000 steps per model, N / M = 64 / 96, 64 / 96, "
        "64 / 192")
    assert closing._compute(rows[:2], "balle2017").endswith("steps per model, N = 64, M = 96")


def test_measure_small(monkeypatch):
    name, image = sample_image()
    small = [(name, image[:48, :64])]
    results = closing.measure(small, clips=(), learned=False, progress=False)
    codecs = {r["codec"] for r in results["rd"]}
    assert {"jpeg", "pillow-jpeg", "mlp1987", "klt", "huffman", "pillow-png"} <= codecs
    bound = results["huffman"][0]
    assert 0 <= bound["redundancy_min"] <= bound["redundancy_max"] < 1
    assert all(r["encode_mp_s"] > 0 for r in results["speed"])
    assert any(r["kind"] == "balle2017" and r["steps"] > 0 for r in results["training"])
    table = closing.claims(results)
    assert table[0]["era"] == "1952 Huffman" and table[0]["verdict"] == "reproduced"
    assert {r["verdict"] for r in table} <= VERDICTS


def test_stored_results_are_whole():
    results = closing.load_results()
    assert results["meta"]["images"] == 24
    table = closing.claims(results)
    assert len(table) >= 8 and {r["verdict"] for r in table} <= VERDICTS
    assert {r["codec"] for r in closing.speeds(results)} >= {"jpeg", "balle2017", "mc-dct"}


def test_save_and_load_round_trip(tmp_path):
    results = {"rd": [{"codec": "huffman", "psnr": math.inf, "bpp": np.float64(1.5)}]}
    closing.save_results(results, tmp_path / "r.json")
    back = closing.load_results(tmp_path / "r.json")
    assert back["rd"][0]["psnr"] == math.inf and back["rd"][0]["bpp"] == 1.5
    with pytest.raises(FileNotFoundError, match="closing_bench"):
        closing.load_results(tmp_path / "missing.json")


def test_figures_small(tmp_path):
    name, image = sample_image()
    results = {**_results(0.8), "meta": {"images": 4}}
    paths = figures.write_all(tmp_path, results=results, image=(name, image[:64, :96]),
                              crop=32, target_bpp=0.5)
    assert [p.name for p in paths] == ["rd_all.png", "crops.png", "huffman_tree.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size <= 300_000


def test_committed_figures_are_small():
    folder = closing.RESULTS_PATH.parents[2] / "docs" / "figures"
    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) >= 3
    assert all(p.stat().st_size <= 300_000 for p in pngs)
