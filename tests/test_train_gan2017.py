"""The gan2017 fine-tuning script on a tiny setting: export, resume, NaN stop."""

from __future__ import annotations

import numpy as np
import pytest

from fromscratch import nn
from fromscratch.codecs.balle2017 import weights_path
from fromscratch.training import gan2017, trainer

SOURCE = weights_path(1)
TINY = ["--crop", "48", "--batch", "2", "--pool", "4", "--warmup", "1", "--quiet",
        "--checkpoint-every", "1"]

pytestmark = pytest.mark.skipif(not SOURCE.exists(), reason="balle2017 q1 weights not shipped")


def _run(tmp_path, steps, *extra, name="ck.npz"):
    argv = ["--init-from", str(SOURCE), "--steps", str(steps), "--checkpoint",
            str(tmp_path / name), *TINY, *extra]
    assert trainer("gan2017") is gan2017.main
    return gan2017.train(gan2017.build_parser().parse_args(argv), argv)


def test_export_keeps_the_encoder_and_tables_and_records_the_commands(tmp_path):
    stats = _run(tmp_path, 3, "--export", str(tmp_path / "g.npz"))
    assert stats["step"] == 3 and np.isfinite(stats["d_loss"])
    source, exported = nn.load_weights(SOURCE), nn.load_weights(tmp_path / "g.npz")
    assert exported.hyperparams["kind"] == "gan2017"
    assert exported.hyperparams["source"] == SOURCE.name
    for name in ("cdfs", "cdf_lengths", "offsets", "medians"):
        np.testing.assert_array_equal(exported.extra[name], source.extra[name])
    for name, value in source.state.items():
        if name.startswith("g_s."):
            continue
        np.testing.assert_array_equal(exported.state[name], value)
    assert any(not np.array_equal(exported.state[n], source.state[n])
               for n in source.state if n.startswith("g_s."))
    commands = exported.hyperparams["commands"]
    assert commands[: len(source.hyperparams["commands"])] == source.hyperparams["commands"]
    assert commands[-1].startswith("python -m fromscratch train gan2017 ")
    assert commands[-1].endswith("# reached step 3")


def test_resuming_gives_the_same_weights_as_one_run(tmp_path):
    _run(tmp_path, 4, name="straight.npz")
    _run(tmp_path, 2, name="split.npz")
    _run(tmp_path, 4, name="split.npz")
    straight = nn.load_weights(tmp_path / "straight.npz")
    split = nn.load_weights(tmp_path / "split.npz")
    assert split.hyperparams["step"] == 4
    for name, value in straight.state.items():
        np.testing.assert_array_equal(split.state[name], value, err_msg=name)
    for name, value in straight.extra.items():
        np.testing.assert_array_equal(split.extra[name], value, err_msg=name)


def test_a_nan_stops_the_run_naming_the_step_and_parameter(tmp_path):
    weights = nn.load_weights(SOURCE)
    weights.state["g_s.2.weight"] = np.full_like(weights.state["g_s.2.weight"], np.nan)
    broken = tmp_path / "broken.npz"
    nn.save_weights(broken, weights.state, weights.hyperparams, extra=weights.extra)
    argv = ["--init-from", str(broken), "--steps", "2", *TINY]
    with pytest.raises(FloatingPointError, match=r"step 0: .*'g_s\.2\.weight'"):
        gan2017.train(gan2017.build_parser().parse_args(argv), argv)


def test_bad_settings_are_refused(tmp_path):
    for argv, message in ((["--steps", "1", *TINY], "init-from"),
                          (["--init-from", str(SOURCE), "--crop", "40"], "multiple of 16")):
        with pytest.raises(ValueError, match=message):
            gan2017.train(gan2017.build_parser().parse_args(argv), argv)
