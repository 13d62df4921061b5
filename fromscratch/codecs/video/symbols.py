"""The symbols of an ``mc-dct`` frame and the adaptive models that code them (chapter 1's coder).

Every syntax element of the video stream is coded with chapter 1's **context-adaptive range
coder** (``fromscratch.entropy.context_coder``): each element kind has its own frequency model
(its *context*), which starts flat and learns as the GOP is coded. MPEG-1 instead has fixed
variable-length code tables for the same elements, designed once on test sequences; an adaptive
model fits *this* sequence at *this* quality, and a frequent symbol (a skipped macroblock, an
end of block) costs less than a bit, which no prefix code can do. ``benchmarks/video_bench.py``
compares it with optimal Huffman codes fitted to the very same symbols: far ahead of per-frame
tables once the tables are paid for, and within a few percent of a fixed table designed on the
coded clip itself (see ``benchmarks/README.md``).

The elements, in stream order, and their contexts::

    per macroblock (P-frames only)
      mb_type        skip / inter / intra                   the types of the left and the
                                                            above macroblocks (9 models)
      mvd_y, mvd_x   motion vector minus the left           one model per component
                     neighbour's vector (half-pel units)
      cbp            which of the 4 (+2 chroma) 8x8 blocks  how many of the left and above
                     have non-zero coefficients (inter)     macroblocks have any (0, 1, 2)
    per coded 8x8 block, JPEG's run/size scheme
      dc_size        size category of the intra DC          luma / chroma x the previous
                     difference (0..15)                     difference's size (3 buckets)
      run_size       16 * zero-run + size of the next       4 block classes (intra/inter x
                     non-zero coefficient; 0 = end of        luma/chroma) x 4 levels of the
                     block, 0xF0 = 16 zeros                  left/above blocks' non-zero
                                                            count x 6 bands of the zig-zag
                                                            position
      sign, bits     sign and the bits below the leading 1  sign: one model; the first bit
                                                            below the leading 1: by size;
                                                            the rest: one model

The models persist across the frames of a GOP (the decoder sees them in the same order) and are
reset at each I-frame, so decoding can start at any I-frame. Each frame's symbols are one range-
coded stream, so a frame's bytes are known by the frame index.

The Numba helpers here keep a coder's state in a small int64 array so that the codec's kernels
can code one symbol with one call: :func:`put_symbol` / :func:`get_symbol`.
"""

from __future__ import annotations

import numba
import numpy as np

from fromscratch.entropy._context_kernels import (
    decode_symbol_in_context,
    encode_symbol_in_context,
)
from fromscratch.entropy._range_kernels import _finish, _start_decoder
from fromscratch.entropy.range_engine import FULL_RANGE, STATUS_OK

__all__ = [
    "CTX_AC",
    "CTX_BITS",
    "CTX_CBP",
    "CTX_DC",
    "CTX_FIRST_BIT",
    "CTX_MB_TYPE",
    "CTX_MVD",
    "CTX_SIGN",
    "INCREMENT",
    "LIMIT",
    "N_ACTIVITY",
    "N_BANDS",
    "N_CONTEXTS",
    "context_names",
    "new_models",
]

INCREMENT = 32
LIMIT = 1 << 16
PRIOR_STRENGTH = 64
CTX_MB_TYPE = 0  # + 3 * left macroblock's type + above macroblock's type (0 skip, 1 inter, 2 intra)
CTX_MVD = 9  # + component (0 = y, 1 = x)
CTX_CBP = 11  # + how many of the left and above macroblocks have coded blocks (0..2)
CTX_DC = 14  # + 3 * (0 luma, 1 chroma) + bucket of the previous DC difference's size (0..2)
CTX_AC = 20  # + N_BANDS * (N_ACTIVITY * block class + neighbours' activity) + band
N_BANDS = 6
N_ACTIVITY = 4
CTX_SIGN = CTX_AC + 4 * N_ACTIVITY * N_BANDS
CTX_FIRST_BIT = CTX_SIGN + 1  # + min(size, 7) - 2: the bit just below the leading 1
CTX_BITS = CTX_FIRST_BIT + 6
N_CONTEXTS = CTX_BITS + 1
#: Zig-zag position -> band (0; 1-2; 3-5; 6-9; 10-20; 21-63): low frequencies get finer models.
BAND_OF_POSITION = np.array([0, 1, 1] + [2] * 3 + [3] * 4 + [4] * 11 + [5] * 43, dtype=np.int64)


def alphabet_sizes(max_mvd: int, n_blocks: int) -> np.ndarray:
    """The alphabet size of each context (int64, (N_CONTEXTS,))."""
    sizes = np.zeros(N_CONTEXTS, dtype=np.int64)
    sizes[CTX_MB_TYPE:CTX_MVD] = 3
    sizes[CTX_MVD:CTX_CBP] = 2 * max_mvd + 1
    sizes[CTX_CBP:CTX_DC] = 1 << n_blocks
    sizes[CTX_DC:CTX_AC] = 16
    sizes[CTX_AC:CTX_SIGN] = 256
    sizes[CTX_SIGN:] = 2
    return sizes


def run_size_prior(strength: int = PRIOR_STRENGTH) -> np.ndarray:
    """Starting counts of a ``run_size`` model: short runs and small sizes likely, EOB likeliest.

    A flat start over 256 symbols costs ~8 bits per symbol until the model has learnt, and there
    are dozens of such models; a rough prior (geometric in run and size) removes most of that
    learning cost. Symbols the syntax never uses (size 0 with a run other than 0 or 15) get no
    slice at all.
    """
    run = np.arange(256) >> 4
    size = np.arange(256) & 15
    prior = strength * 0.6 ** run * 0.4 ** np.maximum(size - 1, 0)
    counts = np.maximum(1, np.rint(prior)).astype(np.int64)
    counts[(size == 0) & (run != 0) & (run != 15)] = 0
    counts[0] = strength  # end of block
    return counts


def new_models(max_mvd: int, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Starting models: ``counts`` (N_CONTEXTS, width) int64 and their row ``totals``.

    Row ``c`` has ones over its alphabet and zeros beyond (symbols that can never occur get no
    slice of the range, so they cost nothing); the ``run_size`` rows start from
    :func:`run_size_prior`.
    """
    sizes = alphabet_sizes(max_mvd, n_blocks)
    counts = np.zeros((N_CONTEXTS, int(sizes.max())), dtype=np.int64)
    for ctx, size in enumerate(sizes):
        counts[ctx, :size] = 1
    if PRIOR_STRENGTH:
        counts[CTX_AC:CTX_SIGN, :256] = run_size_prior()
    return counts, counts.sum(axis=1)


def context_names() -> list[str]:
    """A readable name for each context number (for tables of where the bits go)."""
    names = ["mb_type"] * 9 + ["mvd"] * 2 + ["cbp"] * 3 + ["dc_size"] * 6
    for cls in ("intra-Y", "intra-C", "inter-Y", "inter-C"):
        names += [f"run_size {cls}"] * (N_ACTIVITY * N_BANDS)
    return [*names, "sign"] + ["bits"] * 7


# --- Numba helpers: one call per symbol ---------------------------------------------------------
# encoder state: [low, rng, cache, n_ff, pos, n_logged]; decoder state: [code, rng, pos, status]


def new_encoder_state() -> np.ndarray:
    return np.array([0, FULL_RANGE, 0, 0, 0, 0], dtype=np.int64)


@numba.njit(cache=True)
def put_symbol(state, out, counts, totals, ctx, s, log):
    """Code ``s`` in context ``ctx``; ``log`` (n, 2) records (ctx, s) while it has room."""
    low, rng, cache, n_ff, pos = encode_symbol_in_context(
        state[0], state[1], state[2], state[3], out, state[4], counts, totals, ctx, s,
        INCREMENT, LIMIT)
    state[0] = low
    state[1] = rng
    state[2] = cache
    state[3] = n_ff
    state[4] = pos
    k = state[5]
    if k < log.shape[0]:
        log[k, 0] = ctx
        log[k, 1] = s
        state[5] = k + 1


@numba.njit(cache=True)
def put_magnitude(state, out, counts, totals, value, size, log):
    """Sign of ``value`` and the ``size - 1`` bits of ``|value|`` below its leading 1."""
    put_symbol(state, out, counts, totals, CTX_SIGN, 1 if value < 0 else 0, log)
    magnitude = value if value >= 0 else -value
    for b in range(size - 2, -1, -1):
        ctx = CTX_FIRST_BIT + min(size, 7) - 2 if b == size - 2 else CTX_BITS
        put_symbol(state, out, counts, totals, ctx, (magnitude >> b) & 1, log)


@numba.njit(cache=True)
def finish_stream(state, out):
    """Flush the coder; returns (status, n_bytes) like the range coder's ``_finish``."""
    return _finish(state[0], state[1], state[2], state[3], out, state[4])


@numba.njit(cache=True)
def new_decoder_state(data):
    code, rng, pos = _start_decoder(data)
    state = np.zeros(5, dtype=np.int64)
    state[0] = code
    state[1] = rng
    state[2] = pos
    return state


@numba.njit(cache=True)
def get_symbol(state, data, counts, totals, ctx):
    """Decode one symbol of context ``ctx``; -1 (and ``state[3]`` = status) on bad data."""
    status, s, code, rng, pos = decode_symbol_in_context(
        state[0], state[1], data, state[2], counts, totals, ctx, INCREMENT, LIMIT)
    state[0] = code
    state[1] = rng
    state[2] = pos
    if status != STATUS_OK:
        state[3] = status
        return -1
    state[4] += 1
    return s


@numba.njit(cache=True)
def get_magnitude(state, data, counts, totals, size):
    """Mirror of :func:`put_magnitude`; returns the signed value (0 and a status on bad data)."""
    negative = get_symbol(state, data, counts, totals, CTX_SIGN)
    magnitude = 1
    for b in range(size - 2, -1, -1):
        ctx = CTX_FIRST_BIT + min(size, 7) - 2 if b == size - 2 else CTX_BITS
        bit = get_symbol(state, data, counts, totals, ctx)
        magnitude = (magnitude << 1) | (bit & 1)
    if state[3] != 0:
        return 0
    return -magnitude if negative == 1 else magnitude


@numba.njit(cache=True)
def size_category(value):
    """Bits needed for ``|value|`` (0 for 0): JPEG's SSSS."""
    magnitude = value if value >= 0 else -value
    size = 0
    while magnitude:
        size += 1
        magnitude >>= 1
    return size
