"""Video on the command line, the y4m reader/writer (with ffmpeg where installed), the loader."""

import subprocess
from fractions import Fraction

import numpy as np
import pytest

from fromscratch import BitstreamError, decompress_video
from fromscratch.cli import main
from fromscratch.codecs.video.y4m import read_y4m, write_y4m
from fromscratch.data import BUNDLED_DIR, load_frames, load_video, save_image, video_names
from fromscratch.metrics import psnr as image_psnr

PAN = BUNDLED_DIR / "video" / "pan"


def psnr(a, b):
    """PSNR of two whole clips (all frames stacked into one tall image)."""
    return image_psnr(a.reshape(-1, *a.shape[2:]), b.reshape(-1, *b.shape[2:]))


def test_loader_finds_the_bundled_clip(monkeypatch, tmp_path):
    monkeypatch.setenv("FROMSCRATCH_VIDEO", str(tmp_path))
    assert video_names() == []
    frames, fps = load_video("anything")
    assert frames.shape == (10, 112, 144, 3) and fps == 25
    clip = tmp_path / "mine"
    clip.mkdir()
    for t in range(3):
        save_image(clip / f"{t:03d}.png", np.full((16, 32, 3), 40 * t, np.uint8))
    (clip / "fps").write_text("30000/1001\n")
    assert video_names() == ["mine"]
    frames, fps = load_video("mine", max_frames=2)
    assert frames.shape == (2, 16, 32, 3) and fps == Fraction(30000, 1001)
    assert load_video("mine", data=tmp_path)[0].shape[0] == 3


@pytest.mark.parametrize("chroma", ["420", "444"])
def test_y4m_round_trip(tmp_path, chroma):
    frames, _ = load_frames(PAN)
    path = tmp_path / "clip.y4m"
    write_y4m(path, frames[:3], Fraction(30000, 1001), chroma=chroma)
    assert path.read_bytes().startswith(b"YUV4MPEG2 W144 H112 F30000:1001")
    back, fps = read_y4m(path)
    assert fps == Fraction(30000, 1001) and back.shape == frames[:3].shape
    assert psnr(frames[:3], back) > (36 if chroma == "420" else 45)


def test_y4m_gray_and_bad_files(tmp_path):
    gray = np.arange(2 * 8 * 10, dtype=np.uint8).reshape(2, 8, 10)
    write_y4m(tmp_path / "g.y4m", gray, 25)
    back, _ = read_y4m(tmp_path / "g.y4m")
    np.testing.assert_array_equal(back, gray)
    data = (tmp_path / "g.y4m").read_bytes()
    for bad in (data[:-3], b"YUV4MPEG2 W999999 H999999\n", b"not a y4m", data[:40] + b"XRAME"):
        (tmp_path / "bad.y4m").write_bytes(bad)
        with pytest.raises(BitstreamError):
            read_y4m(tmp_path / "bad.y4m")


def test_cli_video_round_trip(tmp_path, capsys):
    out = tmp_path / "pan.fsv"
    assert main(["encode", str(PAN), str(out), "--quality", "60", "--param", "gop=5"]) == 0
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "mc-dct" in text and "2 I, 8 P" in text
    assert main(["decode", str(out), str(tmp_path / "back.y4m")]) == 0
    assert main(["decode", str(out), str(tmp_path / "frames")]) == 0
    from_folder, _ = load_frames(tmp_path / "frames")
    np.testing.assert_array_equal(from_folder, decompress_video(out.read_bytes()))
    y4m_frames, _ = read_y4m(tmp_path / "back.y4m")
    assert psnr(from_folder, y4m_frames) > 36
    assert main(["encode", str(tmp_path / "back.y4m"), str(tmp_path / "j.fsv"), "--codec",
                 "intra-jpeg", "--fps", "50"]) == 0
    assert main(["info", str(tmp_path / "j.fsv")]) == 0
    assert "at 50" in capsys.readouterr().out
    (tmp_path / "broken.fsv").write_bytes(out.read_bytes()[:100])
    assert main(["decode", str(tmp_path / "broken.fsv"), str(tmp_path / "x.y4m")]) == 1


def _ffmpeg():
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    return imageio_ffmpeg.get_ffmpeg_exe()


def test_ffmpeg_reads_our_y4m(tmp_path):
    exe = _ffmpeg()
    frames, _ = load_frames(PAN)
    write_y4m(tmp_path / "ours.y4m", frames[:4], 25)
    subprocess.run([exe, "-v", "error", "-i", str(tmp_path / "ours.y4m"), "-f", "rawvideo",
                    "-pix_fmt", "rgb24", str(tmp_path / "raw.rgb")], check=True)
    back = np.fromfile(tmp_path / "raw.rgb", np.uint8).reshape(frames[:4].shape)
    assert psnr(frames[:4], back) > 33


def test_we_read_ffmpegs_y4m(tmp_path):
    exe = _ffmpeg()
    subprocess.run([exe, "-v", "error", "-framerate", "25", "-i", str(PAN / "%03d.png"),
                    "-pix_fmt", "yuv420p", str(tmp_path / "theirs.y4m")], check=True)
    frames, _ = load_frames(PAN)
    back, fps = read_y4m(tmp_path / "theirs.y4m")
    assert fps == 25 and back.shape == frames.shape
    assert psnr(frames, back) > 33
