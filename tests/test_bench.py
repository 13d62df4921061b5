"""Rate-distortion measurement: rows, averages, files and plots."""

import csv
import json
import math

import numpy as np
import pytest

from fromscratch import bench, metrics
from fromscratch.data import kodak_paths, load_image


@pytest.fixture(scope="module")
def images():
    return [(p.stem, load_image(p)[:176, :200]) for p in kodak_paths()[:2]]


@pytest.fixture(scope="module")
def rows(images):
    settings = [{"quality": 20}, {"quality": 80}]
    return bench.rd_curve("pillow-jpeg", images, settings, progress=False) + bench.rd_curve(
        "raw", images, progress=False)


def test_rows_hold_real_measurements(rows, images):
    assert len(rows) == 2 * 2 + 2
    first = rows[0]
    assert first["codec"] == "pillow-jpeg" and first["reference"] is True
    assert first["setting"] == "quality=20" and first["image"] == images[0][0]
    assert first["bpp"] == pytest.approx(8 * first["bytes"] / (176 * 200))
    assert 20 < first["psnr"] < 45 and 0.5 < first["ms_ssim"] < 1
    assert first["enc_s"] > 0 and first["dec_s"] > 0
    raw = [r for r in rows if r["codec"] == "raw"]
    assert all(math.isinf(r["psnr"]) and r["setting"] == "default" for r in raw)


def test_summary_is_the_mean_per_setting(rows):
    summary = bench.summarize(rows)
    assert [(s["codec"], s["setting"]) for s in summary] == [
        ("pillow-jpeg", "quality=20"), ("pillow-jpeg", "quality=80"), ("raw", "default")]
    q20 = [r for r in rows if r["setting"] == "quality=20"]
    assert summary[0]["bpp"] == pytest.approx(np.mean([r["bpp"] for r in q20]))
    # CompressAI's convention: the mean of per-image PSNRs, not the PSNR of the mean MSE.
    assert summary[0]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in q20]))
    assert summary[0]["images"] == 2
    assert summary[1]["bpp"] > summary[0]["bpp"]
    table = bench.format_table(summary)
    assert "pillow-jpeg (ref)" in table and "quality=80" in table


def test_ms_ssim_in_decibels(rows):
    assert bench.ms_ssim_db(0.9) == pytest.approx(10.0)
    assert bench.ms_ssim_db(0.99) == pytest.approx(20.0)
    assert math.isinf(bench.ms_ssim_db(1.0)) and math.isnan(bench.ms_ssim_db(math.nan))
    summary = bench.summarize(rows)
    assert summary[0]["ms_ssim_db"] == pytest.approx(-10 * math.log10(1 - summary[0]["ms_ssim"]))
    assert summary[1]["ms_ssim_db"] > summary[0]["ms_ssim_db"]
    shifted = summary + [{**s, "codec": "cheaper", "bpp": 0.5 * s["bpp"]}
                         for s in summary if s["codec"] == "pillow-jpeg"]
    result = bench.bd_against(shifted, "pillow-jpeg", ["cheaper"], "ms_ssim_db")["cheaper"]
    assert result[0] == pytest.approx(-50.0, abs=1e-6) and result[1] > 0


def test_files_and_plot(rows, tmp_path):
    summary = bench.summarize(rows)
    bench.save_csv(rows, tmp_path / "rows.csv")
    bench.save_json(summary, tmp_path / "summary.json")
    with open(tmp_path / "rows.csv") as handle:
        assert len(list(csv.DictReader(handle))) == len(rows)
    loaded = json.loads((tmp_path / "summary.json").read_text())
    assert loaded[-1]["psnr"] == "inf" and loaded[0]["bpp"] == pytest.approx(summary[0]["bpp"])
    ax = bench.plot_rd(summary, "psnr", published={"somebody": (np.array([0.1, 0.5]),
                                                                 np.array([28.0, 33.0]))})
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["pillow-jpeg (reference)", "somebody (published)"]  # lossless raw left out


def test_published_results_are_parsed(tmp_path):
    path = tmp_path / "pub.csv"
    path.write_text("curve,metric,bpp,value,source\n"
                    "A,psnr_rgb,0.5,30.0,x\nA,psnr_rgb,0.2,27.0,x\nA,ms_ssim_rgb,0.2,0.9,x\n")
    curves = bench.load_published(path)
    np.testing.assert_array_equal(curves["A"][0], [0.2, 0.5])
    np.testing.assert_array_equal(curves["A"][1], [27.0, 30.0])
    assert bench.load_published(path, "ms_ssim")["A"][1].tolist() == [0.9]
    shared = bench.published_results_path()
    if shared is not None:
        assert any("bmshj2018" in name for name in bench.load_published(shared))


def test_measure_matches_the_metrics(images):
    from fromscratch.codecs import get_codec

    name, image = images[0]
    row, decoded = bench.measure(get_codec("pillow-webp", quality=30), name, image)
    assert row["setting"] == "quality=30"
    assert row["psnr"] == metrics.psnr(image, decoded)
    assert row["ms_ssim"] == metrics.ms_ssim(image, decoded)


def test_curves_bd_deltas_and_the_rd_figure(rows, tmp_path):
    summary = bench.summarize(rows)
    rates, psnrs = bench.curve(summary, "pillow-jpeg")
    assert len(rates) == 2 and rates[0] < rates[1] and psnrs[0] < psnrs[1]
    shifted = summary + [{**s, "codec": "cheaper", "bpp": 0.8 * s["bpp"]}
                         for s in summary if s["codec"] == "pillow-jpeg"]
    results = bench.bd_against(shifted, "pillow-jpeg", ["cheaper", "raw"])
    assert results["cheaper"][0] == pytest.approx(-20.0, abs=1e-6)  # same PSNR at 80 % of the bits
    assert results["cheaper"][1] > 0
    assert isinstance(results["raw"], str)  # lossless: no curve to compare
    bench.save_rd_figure(summary, tmp_path / "rd.png", "on two crops", max_bpp=3)
    assert (tmp_path / "rd.png").stat().st_size > 1000


def test_measure_codecs_labels_instances_and_averages_the_detail_ratio(images):
    from fromscratch.codecs import get_codec

    codecs = [("q=30", get_codec("pillow-jpeg", quality=30)), ("q=90", get_codec("pillow-jpeg"))]
    rows = bench.measure_codecs("my jpeg", codecs, images, detail=True)
    assert [(r["codec"], r["setting"]) for r in rows[:2]] == [("my jpeg", "q=30")] * 2
    decoded = get_codec("pillow-jpeg", quality=30)
    first = decoded.decode(decoded.encode(images[0][1]))
    assert rows[0]["detail"] == pytest.approx(metrics.detail_ratio(first, images[0][1]))
    summary = bench.summarize(rows)
    assert summary[0]["detail"] == pytest.approx(np.mean([r["detail"] for r in rows[:2]]))
    without = [{k: v for k, v in row.items() if k != "detail"} for row in rows[:2]]
    assert "detail" not in bench.summarize(without)[0]


def test_rate_at_and_equal_quality_ratio():
    summary = [{"codec": "ref", "setting": s, "bpp": b, "ms_ssim": m}
               for s, b, m in (("a", 0.1, 0.90), ("b", 0.4, 0.96))]
    summary.append({"codec": "new", "setting": "x", "bpp": 0.1, "ms_ssim": 0.93})
    summary.append({"codec": "new", "setting": "y", "bpp": 0.1, "ms_ssim": 0.99})
    # halfway in MS-SSIM is halfway in log-rate: the geometric mean of 0.1 and 0.4
    assert bench.rate_at(summary, "ref", "ms_ssim", 0.93) == pytest.approx(0.2)
    assert math.isnan(bench.rate_at(summary, "ref", "ms_ssim", 0.97))
    ratios = bench.equal_quality_ratio(summary, "new", "ref")
    assert ratios[0] == ("x", pytest.approx(2.0)) and math.isnan(ratios[1][1])
    with pytest.raises(ValueError, match="no points"):
        bench.rate_at(summary, "absent", "ms_ssim", 0.9)
