"""The 8x8 DCT and the JFIF colour transform: exactness, references, and what they buy."""

import numpy as np
import pytest
from PIL import Image

from fromscratch import backend
from fromscratch.data import kodak_paths, load_image
from fromscratch.transforms import colour, dct


def test_dct_matrix_is_orthonormal_and_matches_the_definition():
    c = dct.dct_matrix()
    np.testing.assert_allclose(c @ c.T, np.eye(8), atol=1e-14)
    k, n = 3, 5
    assert c[k, n] == pytest.approx(0.5 * np.cos(np.pi * (2 * n + 1) * k / 16))
    assert c[0, 0] == pytest.approx(np.sqrt(1 / 8))


def test_blockwise_dct_matches_scipy_and_inverts():
    scipy_fft = pytest.importorskip("scipy.fft")
    blocks = np.random.default_rng(0).normal(size=(3, 5, 8, 8))
    coefficients = dct.dct_blocks(blocks)
    np.testing.assert_allclose(coefficients, scipy_fft.dctn(blocks, axes=(-2, -1), norm="ortho"),
                               atol=1e-12)
    np.testing.assert_allclose(dct.idct_blocks(coefficients), blocks, atol=1e-12)
    # Orthonormal: energy is preserved block by block.
    np.testing.assert_allclose((coefficients**2).sum(axis=(-2, -1)),
                               (blocks**2).sum(axis=(-2, -1)))
    assert dct.dct_blocks(blocks.astype(np.float32)).dtype == np.float32


def test_blockify_round_trip_and_layout():
    plane = np.arange(16 * 24).reshape(16, 24)
    blocks = dct.blockify(plane)
    assert blocks.shape == (2, 3, 8, 8)
    np.testing.assert_array_equal(blocks[1, 2], plane[8:16, 16:24])
    np.testing.assert_array_equal(dct.unblockify(blocks), plane)
    with pytest.raises(ValueError, match="multiple"):
        dct.blockify(np.zeros((10, 16)))


def test_basis_images_rebuild_a_block():
    block = np.random.default_rng(1).normal(size=(8, 8))
    basis = dct.basis_images()
    np.testing.assert_allclose(np.einsum("uvij,uv->ij", basis, dct.dct_blocks(block)), block,
                               atol=1e-12)
    np.testing.assert_allclose(basis[0, 0], np.full((8, 8), 1 / 8))


def test_energy_compaction_on_a_photograph():
    gray = load_image(kodak_paths()[0]).mean(axis=2)
    height, width = (s // 8 * 8 for s in gray.shape)
    blocks = dct.blockify(gray[:height, :width] - 128)
    def top6_share(values):
        energy = (values**2).reshape(-1, 64).sum(axis=0)
        return np.sort(energy)[::-1][:6].sum() / energy.sum()

    # Six of the 64 pixel positions hold about 6/64 of a block's energy; six of the 64 DCT
    # frequencies (the DC and its low-frequency neighbours) hold most of it, even on kodim01's
    # texture.
    assert top6_share(blocks) < 0.15
    assert top6_share(dct.dct_blocks(blocks)) > 0.8


def test_colour_matches_pillow_and_round_trips():
    image = np.random.default_rng(2).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    ours = np.rint(colour.rgb_to_ycbcr(image))
    pillow = np.asarray(Image.fromarray(image).convert("YCbCr")).astype(float)
    assert np.abs(ours - pillow).max() <= 1
    np.testing.assert_array_equal(colour.ycbcr_to_rgb(colour.rgb_to_ycbcr(image)), image)
    grey = np.full((2, 2, 3), 77, np.uint8)
    np.testing.assert_allclose(colour.rgb_to_ycbcr(grey), [[[77, 128, 128]] * 2] * 2, atol=1e-9)


@pytest.mark.skipif("cupy" not in backend.available_backends(), reason="needs CuPy and a GPU")
def test_dct_and_colour_run_on_the_gpu():
    import cupy

    blocks = np.random.default_rng(3).normal(size=(4, 4, 8, 8))
    on_gpu = dct.dct_blocks(cupy.asarray(blocks))
    assert isinstance(on_gpu, cupy.ndarray)
    np.testing.assert_allclose(backend.to_numpy(on_gpu), dct.dct_blocks(blocks), atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(dct.idct_blocks(on_gpu)), blocks, atol=1e-12)
    image = np.random.default_rng(4).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        backend.to_numpy(colour.ycbcr_to_rgb(colour.rgb_to_ycbcr(cupy.asarray(image)))), image)


@pytest.mark.skipif("cupy" not in backend.available_backends(), reason="needs CuPy and a GPU")
def test_jpeg_chroma_upsampling_runs_on_the_gpu():
    import cupy

    from fromscratch.codecs.jpeg import upsample

    plane = np.random.default_rng(5).integers(0, 256, (2, 9, 13)).astype(np.int16)
    for h, v in ((2, 2), (2, 1), (1, 2), (1, 1)):
        for fancy in (True, False):
            on_gpu = upsample.upsample(cupy.asarray(plane), h, v, fancy=fancy)
            assert isinstance(on_gpu, cupy.ndarray)
            np.testing.assert_array_equal(backend.to_numpy(on_gpu),
                                          upsample.upsample(plane, h, v, fancy=fancy))
