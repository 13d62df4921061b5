"""The command line: round trips, one-line errors, atomic writes, and the demo."""

import subprocess
import sys

import numpy as np
import pytest

from fromscratch import cli, data


@pytest.fixture
def png(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    path = tmp_path / "in.png"
    data.save_image(path, image)
    return path, image


def run(*argv):
    return cli.main([str(a) for a in argv])


def test_encode_decode_info_round_trip(png, tmp_path, capsys):
    path, image = png
    assert run("encode", path, tmp_path / "a.fsc", "--codec", "raw") == 0
    assert run("decode", tmp_path / "a.fsc", tmp_path / "out.png") == 0
    np.testing.assert_array_equal(data.load_image(tmp_path / "out.png"), image)
    capsys.readouterr()
    assert run("info", tmp_path / "a.fsc") == 0
    info = capsys.readouterr().out
    assert "codec:    raw" in info and "41 x 30 x 3" in info and "CRC ok" in info
    assert "bpp" in info
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_quality_and_params_reach_the_codec(png, tmp_path, capsys):
    path, _ = png
    assert run("encode", path, tmp_path / "q10.jpg", "--codec", "pillow-jpeg", "--quality", 10) == 0
    assert run("encode", path, tmp_path / "q90.jpg", "--codec", "pillow-jpeg",
               "--param", "quality=90", "--param", "subsampling=4:4:4") == 0
    assert (tmp_path / "q10.jpg").stat().st_size < (tmp_path / "q90.jpg").stat().st_size
    assert run("info", tmp_path / "q10.jpg") == 0
    assert "JPEG" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["decode", "{tmp}/missing.fsc", "{tmp}/o.png"], "No such file"),
        (["decode", "{tmp}/garbage.fsc", "{tmp}/o.png"], "unrecognised"),
        (["decode", "{tmp}/cut.fsc", "{tmp}/o.png"], "truncated"),
        (["info", "{tmp}/cut.fsc"], "truncated"),
        (["encode", "{png}", "{tmp}/x.fsc", "--codec", "nope"], "unknown codec"),
        (["encode", "{png}", "{tmp}/x.fsc", "--codec", "raw", "--quality", "5"], "no parameter"),
        (["encode", "{png}", "{tmp}/x.fsc", "--param", "oops"], "NAME=VALUE"),
        (["encode", "{png}", "{png}"], "refusing to overwrite"),
    ],
)
def test_errors_are_one_line_and_nonzero(argv, message, png, tmp_path, capsys):
    path, image = png
    (tmp_path / "garbage.fsc").write_bytes(b"\x00" * 50)
    run("encode", path, tmp_path / "full.fsc")
    (tmp_path / "cut.fsc").write_bytes((tmp_path / "full.fsc").read_bytes()[:-10])
    capsys.readouterr()
    argv = [a.format(tmp=tmp_path, png=path) for a in argv]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("fromscratch: error:") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "x.fsc").exists()
    np.testing.assert_array_equal(data.load_image(path), image)  # input untouched


def test_bench_writes_table_csv_and_plot(tmp_path, capsys):
    images = ",".join(str(p) for p in data.kodak_paths()[:1])
    assert run("bench", "--codecs", "pillow-jpeg,raw", "--images", images,
               "--settings", "quality=20,80", "--out", tmp_path / "b") == 1  # raw has no quality
    capsys.readouterr()
    assert run("bench", "--codecs", "pillow-jpeg", "--images", images,
               "--settings", "quality=20,80", "--out", tmp_path / "b") == 0
    out = capsys.readouterr().out
    assert "quality=20" in out and "quality=80" in out
    for name in ("summary.csv", "summary.json", "rows.csv", "rd.png"):
        assert (tmp_path / "b" / name).stat().st_size > 0


def test_demo_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fromscratch", "demo", "--out", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "PSNR" in result.stdout and "raw" in result.stdout
    assert (tmp_path / "demo" / "rd.png").stat().st_size > 0
    assert len(list((tmp_path / "demo").glob("*.png"))) >= 5


def test_usage_errors_exit_with_2():
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2


def test_train_dispatches_to_the_codec_trainer(tmp_path, capsys):
    assert cli.main(["train", "no-such-codec"]) == 1
    assert "trainable codecs: mlp1987" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "mlp1987", "--help"])
    assert exit_info.value.code == 0
    assert "python -m fromscratch train mlp1987" in capsys.readouterr().out
    out = tmp_path / "klt.npz"
    assert cli.main(["train", "mlp1987", "--klt", "--crops", "20", "--out", str(out)]) == 0
    assert out.exists()
