"""The fast pieces of *building* a Huffman code: two compiled loops and the canonical numbering.

``huffman_codes`` turns counts into code lengths and code words; three of its steps run here.
Counting symbols is one compiled pass over the data, ``count_symbols`` (``np.bincount`` is its
twin). Huffman's merge is recomputed by the compiled ``huffman_depths_kernel`` with two queues
instead of a heap (its readable twin is ``huffman_codes.build_tree``; a test pins their lengths
together). And the canonical numbering below (NumPy) turns a table of lengths into code words;
the stream's encoder and decoders (``_huffman_kernels``, and through it JPEG's scan coder) use the
same numbering, which is why it lives here, below both of them.

Canonical layout
----------------
Sorting the used symbols by (code length, symbol value) numbers them in *canonical order*. Within
one length the codes are consecutive integers starting at ``first_code[l]``, and::

    first_code[l] = (first_code[l - 1] + n_codes[l - 1]) << 1        (first_code[1] = 0)

which is Deflate's ``next_code`` loop (RFC 1951, 3.2.2) and JPEG's ``HUFFCODE`` (Annex C). A
decoder that has read ``l`` bits holding the integer ``code`` has a complete code word exactly when
``0 <= code - first_code[l] < n_codes[l]``, and then the symbol is
``sorted_symbols[first_index[l] + code - first_code[l]]``: JPEG's MAXCODE/VALPTR test (Annex F.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

MAX_CODE_LENGTH = 32  # the stream format's limit; the 64-bit bit buffers below rely on it


# --------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _count_kernel(symbols, counts):  # pragma: no cover - compiled
    for i in range(symbols.shape[0]):
        counts[symbols[i]] += 1


def count_symbols(symbols: np.ndarray, alphabet_size: int, use_numba: bool = True) -> np.ndarray:
    """Histogram of uint8/uint16 ``symbols``, all ``< alphabet_size`` (checked by the caller).

    ``np.bincount`` (the twin) first converts the symbols to 8-byte integers; the kernel does
    not, which makes it about 4x faster on 10 MB of bytes.
    """
    if not use_numba:
        return np.bincount(symbols, minlength=alphabet_size).astype(np.int64)
    counts = np.zeros(alphabet_size, dtype=np.int64)
    _count_kernel(symbols, counts)
    return counts


# --------------------------------------------------------------------------------------------
# Huffman's merge, compiled (its readable twin is huffman_codes.build_tree)
# --------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def huffman_depths_kernel(sorted_counts):  # pragma: no cover - compiled
    """Depth of each leaf of Huffman's tree; ``sorted_counts`` int64 (n >= 2,) ascending.

    The two-queue method (van Leeuwen 1976): parents are created with non-decreasing counts, so
    a plain queue of them stays sorted, and the two smallest items are always at the front of
    either the leaf queue or the parent queue. Preferring the leaf on equal counts pops exactly
    what the heap keyed by (count, age) pops, so the tree has the same depths.
    """
    n = sorted_counts.shape[0]
    parent_counts = np.empty(n - 1, dtype=np.int64)
    parent_of = np.empty(2 * n - 1, dtype=np.int64)  # nodes: n leaves, then n - 1 parents
    next_leaf = 0
    next_parent = 0
    for new in range(n - 1):
        total = 0
        for _ in range(2):
            if next_leaf < n and (
                next_parent == new or sorted_counts[next_leaf] <= parent_counts[next_parent]
            ):
                parent_of[next_leaf] = n + new
                total += sorted_counts[next_leaf]
                next_leaf += 1
            else:
                parent_of[n + next_parent] = n + new
                total += parent_counts[next_parent]
                next_parent += 1
        parent_counts[new] = total
    depth = np.zeros(2 * n - 1, dtype=np.uint8)  # the root, node 2n - 2, has depth 0
    for node in range(2 * n - 3, -1, -1):  # parents are created after their children
        depth[node] = depth[parent_of[node]] + 1
    return depth[:n]



# --------------------------------------------------------------------------------------------
# The canonical layout
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CanonicalLayout:
    """The canonical numbering of a length table (arrays indexed by code length 0..32).

    Attributes
    ----------
    sorted_symbols : ndarray of uint16, shape (n_used,)
        Used symbols in canonical order: by code length, then by symbol value.
    n_codes, first_code, first_index : ndarray of int64, shape (33,)
        Per length ``l``: how many codes, the integer value of the first one, and the position
        of its symbol in ``sorted_symbols``.
    """

    sorted_symbols: np.ndarray
    n_codes: np.ndarray
    first_code: np.ndarray
    first_index: np.ndarray

    @property
    def max_length(self) -> int:
        used = np.flatnonzero(self.n_codes)
        return int(used[-1]) if used.size else 0


def canonical_layout(lengths: np.ndarray) -> CanonicalLayout:
    """Canonical order of a (validated, uint8, values 0..32) length table."""
    used = np.flatnonzero(lengths)
    # a stable sort on the length keeps equal lengths in increasing symbol order
    sorted_symbols = used[np.argsort(lengths[used], kind="stable")].astype(np.uint16)
    n_codes = np.bincount(lengths[used], minlength=MAX_CODE_LENGTH + 1).astype(np.int64)
    first_code = np.zeros(MAX_CODE_LENGTH + 1, dtype=np.int64)
    first_index = np.zeros(MAX_CODE_LENGTH + 1, dtype=np.int64)
    code = index = 0
    for length in range(1, MAX_CODE_LENGTH + 1):
        code = (code + int(n_codes[length - 1])) << 1  # n_codes[0] == 0: unused symbols
        first_code[length] = code
        first_index[length] = index
        index += int(n_codes[length])
    return CanonicalLayout(sorted_symbols, n_codes, first_code, first_index)


def canonical_codes_from_layout(lengths: np.ndarray, layout: CanonicalLayout) -> np.ndarray:
    """Code word of every symbol, shape (alphabet_size,) uint64, 0 for unused symbols."""
    codes = np.zeros(lengths.shape, dtype=np.uint64)
    symbols = layout.sorted_symbols.astype(np.int64)
    symbol_lengths = lengths[symbols].astype(np.int64)
    rank_within_length = np.arange(symbols.size) - layout.first_index[symbol_lengths]
    codes[symbols] = (layout.first_code[symbol_lengths] + rank_within_length).astype(np.uint64)
    return codes
