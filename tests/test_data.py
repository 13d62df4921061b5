"""The image loader: where images are found, and the fallbacks when they are not."""

from pathlib import Path

import numpy as np
import pytest

from fromscratch import data


@pytest.fixture
def fake_data(tmp_path, monkeypatch):
    """A data folder with 3 tiny 'kodak' images and 2 'train' images, set through the env var."""
    rng = np.random.default_rng(0)
    for subset, count, shape in (("kodak", 3, (40, 60, 3)), ("train", 2, (70, 90, 3))):
        (tmp_path / subset).mkdir()
        for i in range(count):
            data.save_image(tmp_path / subset / f"img{i:02d}.png",
                            rng.integers(0, 256, shape, dtype=np.uint8))
    (tmp_path / "kodak" / "notes.txt").write_text("not an image")
    monkeypatch.setenv("FROMSCRATCH_DATA", str(tmp_path))
    return tmp_path


def test_load_and_save_round_trip(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    gray = rgb[:, :, 0].copy()
    for image, name in ((rgb, "rgb.png"), (gray, "gray.png"), (rgb, "rgb.bmp")):
        data.save_image(tmp_path / name, image)
        np.testing.assert_array_equal(data.load_image(tmp_path / name), image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gray.png", "rgb.bmp", "rgb.png"]
    with pytest.raises(ValueError):
        data.save_image(tmp_path / "x.unknown", rgb)
    with pytest.raises(ValueError):
        data.save_image(tmp_path / "x.png", rgb.astype(np.float32))


def test_env_var_wins_and_files_are_sorted(fake_data):
    paths = data.kodak_paths()
    assert [p.name for p in paths] == ["img00.png", "img01.png", "img02.png"]
    assert all(im.shape == (40, 60, 3) for im in data.kodak())
    assert len(data.train_images()) == 2
    assert data.find_data_dir() == fake_data


def test_explicit_folder_wins_over_env(fake_data, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    (other / "kodak").mkdir()
    data.save_image(other / "kodak" / "only.png", np.zeros((8, 8, 3), np.uint8))
    assert [p.name for p in data.kodak_paths(other)] == ["only.png"]
    with pytest.raises(FileNotFoundError):
        data.kodak_paths(other / "missing")


def test_falls_back_to_bundled_samples_with_a_notice(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FROMSCRATCH_DATA", str(tmp_path))  # empty: no kodak/, no train/
    monkeypatch.setattr(data, "_noticed", set())
    kodak = data.kodak_paths()
    train = data.train_paths()
    assert kodak and all(p.parent == data.BUNDLED_DIR / "samples" for p in kodak)
    assert train and all(p.parent == data.BUNDLED_DIR / "train" for p in train)
    assert not set(kodak) & set(train), "never train on the evaluation images"
    err = capsys.readouterr().err
    assert err.count("bundled") == 2 and len(err.strip().splitlines()) == 2
    data.kodak_paths()
    assert capsys.readouterr().err == "", "the notice is printed once per process"
    name, image = data.sample_image()
    assert name.startswith("kodim23") and image.shape == (256, 384, 3)


def test_shared_images_are_found_beside_the_repository(monkeypatch):
    monkeypatch.delenv("FROMSCRATCH_DATA", raising=False)
    shared = Path(data.REPO_ROOT).parent / "shared" / "images"
    if not (shared / "kodak").is_dir():
        pytest.skip("../shared/images is not present on this machine")
    paths = data.kodak_paths()
    assert len(paths) == 24 and paths[0].name == "kodim01.png"
    assert len(data.train_paths()) >= 40


def test_random_crops_are_reproducible_and_in_bounds(fake_data):
    a = data.random_crops(32, 10, rng=3)
    b = data.random_crops(32, 10, rng=3)
    assert a.shape == (10, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, data.random_crops(32, 10, rng=4))
    # Every crop is a (possibly mirrored) window of one of the training images.
    images = data.train_images()
    for crop in a[:3]:
        found = False
        for image in images:
            for candidate in (crop, crop[:, ::-1]):
                windows = np.lib.stride_tricks.sliding_window_view(image, (32, 32, 3))
                found |= bool((windows == candidate).all(axis=(-3, -2, -1)).any())
        assert found
    with pytest.raises(ValueError):
        data.random_crops(100, 1)  # larger than every training image


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import os

    from fromscratch import nn

    umask = os.umask(0)
    os.umask(umask)
    data.save_image(tmp_path / "a.png", np.zeros((2, 2), np.uint8))
    nn.save_weights(tmp_path / "w.npz", {"a": np.zeros(2)}, {})
    for name in ("a.png", "w.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask
