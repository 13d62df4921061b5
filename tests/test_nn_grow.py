"""Growing a trained model wider (nn.grow): same function, new channels that can learn."""

import numpy as np
import pytest

from fromscratch import nn
from fromscratch.codecs.balle2017.model import Balle2017, RateDistortionLoss
from fromscratch.codecs.balle2018 import Balle2018
from fromscratch.training import balle2017 as training


def trained_like(model, seed):
    """``model`` with every parameter moved off its initial value, as training would."""
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data += 0.05 * rng.standard_normal(p.shape).astype(p.data.dtype)
    return model


@pytest.mark.parametrize("wide", [(6, 10), (4, 9), (4, 6)])
def test_grown_model_computes_what_the_narrow_one_did(wide):
    narrow = trained_like(Balle2017(4, 6, rng=1), seed=1)
    grown = nn.load_grown(Balle2017(*wide, rng=7), narrow.state_dict())
    x = np.random.default_rng(2).uniform(0, 1, (2, 3, 32, 48)).astype(np.float32)
    for model in (narrow, grown):
        model.eval()
    with nn.no_grad():
        x_hat, likelihoods = narrow.forward(x)
        grown_x_hat, grown_likelihoods = grown.forward(x)
    np.testing.assert_array_equal(grown_x_hat, x_hat)
    np.testing.assert_array_equal(grown_likelihoods[:, :6], likelihoods)
    assert grown_likelihoods.shape[1] == wide[1]


def test_the_hyperprior_grows_too():
    narrow = trained_like(Balle2018(4, 6, rng=1), seed=0)
    grown = nn.load_grown(Balle2018(6, 10, rng=2), narrow.state_dict())
    x = np.random.default_rng(1).uniform(0, 1, (1, 3, 64, 64)).astype(np.float32)
    for model in (narrow, grown):
        model.eval()
    with nn.no_grad():
        x_hat, (y_likelihoods, z_likelihoods) = narrow.forward(x)
        grown_x_hat, (grown_y, grown_z) = grown.forward(x)
    np.testing.assert_array_equal(grown_x_hat, x_hat)
    np.testing.assert_array_equal(grown_y[:, :6], y_likelihoods)
    np.testing.assert_array_equal(grown_z[:, :4], z_likelihoods)


def test_the_silent_weights_learn_from_the_first_step():
    narrow = trained_like(Balle2017(4, 6, rng=3), seed=3)
    grown = nn.load_grown(Balle2017(6, 10, rng=8), narrow.state_dict())
    grown.train()
    x = np.random.default_rng(4).uniform(0, 1, (2, 3, 32, 32)).astype(np.float32)
    loss = RateDistortionLoss(0.01)
    grown.zero_grad()
    loss.forward(*grown.forward(x), x)
    grown.backward(*loss.backward())
    weight = grown.g_s[0].weight  # (in = latents, out, 5, 5): rows 6.. were set to zero
    assert np.all(weight.data[6:] == 0) and np.abs(weight.grad[6:]).max() > 0
    assert np.all(grown.g_a[1].gamma[:4, 4:] == 0)  # old channels do not see the new ones yet
    assert np.abs(grown.g_a[1].gamma_param.grad[:4, 4:]).max() > 0  # ... until they learn to


def test_new_channels_start_small_and_cheap():
    narrow = trained_like(Balle2017(4, 6, rng=5), seed=5)
    eb = narrow.entropy_bottleneck
    eb.biases[-1].data[2] += 3.0  # channel 2's density moves away from 0: not the narrowest
    eb.matrices[0].data[4] += 2.0  # channel 4's gets steeper: the narrowest
    grown = nn.load_grown(Balle2017(4, 9, rng=9), narrow.state_dict(), new_scale=0.25)
    for name, value in grown.entropy_bottleneck.state_dict().items():
        for channel in range(6, 9):
            np.testing.assert_array_equal(value[channel], value[4], err_msg=name)
    fresh = Balle2017(4, 9, rng=9).g_a[6].weight.data  # the initial values it started from
    np.testing.assert_allclose(grown.g_a[6].weight.data[6:], 0.25 * fresh[6:], rtol=1e-6)


def test_what_does_not_fit_is_refused():
    narrow = Balle2017(6, 8, rng=0)
    with pytest.raises(nn.WeightsError, match="does not fit"):
        nn.load_grown(Balle2017(4, 8, rng=0), narrow.state_dict(), source="small.npz")
    state = narrow.state_dict()
    state["g_a.0.weight"] = state["g_a.0.weight"][..., 0]
    with pytest.raises(nn.WeightsError, match=r"g_a\.0\.weight"):
        nn.load_grown(Balle2017(6, 8, rng=0), state)
    del state["g_a.0.weight"]
    with pytest.raises(nn.WeightsError, match="names differ"):
        nn.load_grown(Balle2017(6, 8, rng=0), state)


def test_training_warm_starts_a_wider_model(tmp_path):
    start, out = tmp_path / "narrow.npz", tmp_path / "wide.npz"
    tiny = ["--crop", "32", "--batch", "2", "--quiet"]
    assert training.main(["--lmbda", "0.01", "--n", "4", "--m", "6", "--steps", "1",
                          "--export", str(start), *tiny]) == 0
    assert training.main(["--lmbda", "0.01", "--n", "4", "--m", "10", "--steps", "1",
                          "--init-from", str(start), "--export", str(out), *tiny]) == 0
    wide = nn.load_weights(out)
    assert wide.hyperparams["m"] == 10 and wide.state["g_a.6.weight"].shape[0] == 10
    assert len(wide.hyperparams["commands"]) == 2
