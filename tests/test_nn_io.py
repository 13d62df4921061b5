"""Weight files: round trip, atomic writes, and every way a file can be wrong -> WeightsError."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from fromscratch import nn


def _net(seed=0):
    return nn.Sequential(nn.Linear(3, 4, rng=seed), nn.ReLU(), nn.Linear(4, 2, rng=seed + 1))


def test_roundtrip_state_extra_and_hyperparams(tmp_path):
    net = _net()
    path = tmp_path / "sub" / "w.npz"
    hyper = {"layers": [3, 4, 2], "command": "python -m fromscratch train mlp1987 --seed 0"}
    extra = {"cdf": np.arange(5, dtype=np.int32), "mean": np.float64(0.25)}
    nn.save_weights(path, net, hyper, extra=extra)
    w = nn.load_weights(path)
    assert w.hyperparams == hyper and w.path == str(path)
    assert set(w.state) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    np.testing.assert_array_equal(w.extra["cdf"], extra["cdf"])
    assert w.extra["mean"].shape == () and float(w.extra["mean"]) == 0.25
    fresh = _net(seed=9)
    fresh.load_state_dict(w.state, source=w.path)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(fresh(x), net(x))
    assert os.listdir(path.parent) == ["w.npz"]  # no temporary file left behind


def test_saved_layout_is_plain_npz(tmp_path):
    path = tmp_path / "w.npz"
    nn.save_weights(path, {"a.weight": np.ones((2, 2))}, {"k": 1}, extra={"e": np.zeros(3)})
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["extra/e", "hyperparams", "param/a.weight"]
        assert npz["hyperparams"].dtype.kind == "U" and npz["hyperparams"].shape == ()
        assert json.loads(str(npz["hyperparams"])) == {"k": 1}


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "w.npz"
    nn.save_weights(path, _net(0), {"v": 1})
    nn.save_weights(path, _net(5), {"v": 2})
    w = nn.load_weights(path)
    assert w.hyperparams == {"v": 2}
    np.testing.assert_array_equal(w.state["0.weight"], _net(5).state_dict()["0.weight"])


def test_unserialisable_hyperparams_or_object_arrays_are_refused(tmp_path):
    path = tmp_path / "w.npz"
    with pytest.raises(nn.WeightsError, match="JSON"):
        nn.save_weights(path, _net(), {"array": np.zeros(2)})
    with pytest.raises(nn.WeightsError, match="object array"):
        nn.save_weights(path, _net(), {}, extra={"junk": np.array([{}, 1], dtype=object)})
    with pytest.raises(nn.WeightsError, match="dict"):
        nn.save_weights(path, _net(), ["not", "a", "dict"])
    assert not path.exists() and os.listdir(tmp_path) == []


def test_wrong_shapes_name_the_file(tmp_path):
    path = tmp_path / "small.npz"
    nn.save_weights(path, nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)), {})
    w = nn.load_weights(path)
    with pytest.raises(nn.WeightsError, match=r"small\.npz.*0\.weight.*\(5, 3\).*\(4, 3\)"):
        _net().load_state_dict(w.state, source=w.path)


def test_missing_file(tmp_path):
    with pytest.raises(nn.WeightsError, match=r"nothere\.npz.*not found"):
        nn.load_weights(tmp_path / "nothere.npz")


def test_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"param/x": np.array([{"a": 1}], dtype=object), "hyperparams": np.array("{}")})
    with pytest.raises(nn.WeightsError, match=r"evil\.npz") as info:
        nn.load_weights(path)
    assert "pickle" in str(info.value).lower()


def test_a_raw_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"param/x": [1, 2, 3]}))
    with pytest.raises(nn.WeightsError, match=r"evil\.npz"):
        nn.load_weights(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("text.npz", b"these are not weights"),
        ("empty.npz", b""),
        ("truncated.npz", "TRUNCATE"),
    ],
)
def test_not_an_npz(tmp_path, name, content):
    path = tmp_path / name
    if content == "TRUNCATE":
        nn.save_weights(path, _net(), {"a": 1})
        content = path.read_bytes()[:200]
    path.write_bytes(content)
    with pytest.raises(nn.WeightsError, match=name.replace(".", r"\.")):
        nn.load_weights(path)


def test_a_bare_npy_file_is_refused(tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(nn.WeightsError, match=r"one\.npy.*not an \.npz"):
        nn.load_weights(path)


def test_missing_or_bad_hyperparams(tmp_path):
    path = tmp_path / "nohyper.npz"
    np.savez(path, **{"param/w": np.zeros(2)})
    with pytest.raises(nn.WeightsError, match=r"nohyper\.npz.*hyperparams"):
        nn.load_weights(path)
    path = tmp_path / "badjson.npz"
    np.savez(path, **{"param/w": np.zeros(2), "hyperparams": np.array("{not json")})
    with pytest.raises(nn.WeightsError, match=r"badjson\.npz.*JSON"):
        nn.load_weights(path)
    path = tmp_path / "list.npz"
    np.savez(path, **{"hyperparams": np.array("[1, 2]")})
    with pytest.raises(nn.WeightsError, match=r"list\.npz.*JSON object"):
        nn.load_weights(path)
    path = tmp_path / "numeric.npz"
    np.savez(path, **{"hyperparams": np.zeros(3)})
    with pytest.raises(nn.WeightsError, match=r"numeric\.npz.*unicode"):
        nn.load_weights(path)


def test_unknown_entries_are_refused(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, **{"weights": np.zeros(2), "hyperparams": np.array("{}")})
    with pytest.raises(nn.WeightsError, match=r"odd\.npz.*'weights'"):
        nn.load_weights(path)


def test_weights_error_is_a_value_error():
    assert issubclass(nn.WeightsError, ValueError)
