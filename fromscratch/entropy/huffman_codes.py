"""Building a Huffman code (1952): the shortest prefix code for known symbol counts.

From counts to code words in four steps, each a function here: count the symbols
(``symbol_counts``, ``entropy``), merge them greedily into Huffman's tree (``build_tree``,
``tree_code_lengths``; ``code_lengths`` does the same merge compiled), limit the lengths if a
decoder needs it (``package_merge``), and number the words canonically (``kraft_sum``,
``check_code_lengths``, ``canonical_codes``). Writing a stream with the code is ``huffman``'s
job; drawing the tree is ``huffman_plots``'.

Prefix codes and Kraft's inequality
-----------------------------------
Give every symbol a string of bits, its *code word*, and write the words end to end with no
separators. The stream can be cut back into words if no word is the beginning (prefix) of another:
then the words are the leaves of a binary tree (0 = left, 1 = right), and a decoder walks from the
root, bit by bit, until it hits a leaf. Word lengths ``l_i`` are possible for a prefix code exactly
when **Kraft's inequality** holds (Kraft 1949, McMillan 1956 for all uniquely decodable codes)::

    sum_i 2**-l_i <= 1

A word of length ``l`` uses up the fraction ``2**-l`` of all infinite bit strings. When the sum
is exactly 1 the code is *complete*: every bit string starts with some word, no branch is wasted.

Huffman's greedy merge
----------------------
Shannon (1948) showed no code beats the *entropy* ``H = -sum p_i log2 p_i`` bits per symbol.
David Huffman, a student in Fano's class, found the optimal prefix code in 1952: put every used
symbol in a heap keyed by its count; repeatedly pop the two smallest, make them siblings under a
new node whose count is their sum, and push that node back. The last node is the root, and each
symbol's code length is its depth. Why this is optimal: some optimal tree has the two rarest
symbols as siblings at the deepest level (swapping a rarer symbol deeper never costs bits); merging
them into one symbol of count ``a + b`` gives a problem with one symbol fewer whose cost differs by
exactly ``a + b`` for *every* tree, so an optimal tree for the smaller problem, split again, is
optimal for the larger one. By induction the greedy merge is optimal, and its average length ``L``
obeys ``H <= L < H + 1``. Ties are broken deterministically here, by (count, age): leaves are
oldest, in symbol order, and each new node is younger than all before it. Letting older items win
ties picks, among the optimal trees, one with the smallest maximum depth and the smallest variance
of lengths (Schwartz 1964).

Canonical codes: store only the lengths
---------------------------------------
The cost ``sum count_i * l_i`` depends on the lengths only, so any prefix code with the same
lengths is just as good. The *canonical* one sorts symbols by (length, symbol value) and numbers
them consecutively, adding one and appending zeros whenever the length grows (Schwartz & Kallick
1964; Deflate and JPEG use it). A decoder given the lengths alone rebuilds the identical code, so a
stream stores one small length per symbol instead of a tree, and, because codes of one length are
consecutive integers, the decoder can recognise them by comparison (JPEG's MAXCODE/VALPTR).

Why and how to limit lengths
----------------------------
Huffman lengths can reach ``n - 1`` for ``n`` symbols (Fibonacci-like counts), but decoders want
code words that fit a fixed bit buffer (JPEG allows 16 bits, this format 32). The best code with
every length ``<= L`` comes from **package-merge** (Larmore & Hirschberg 1990), which solves a
"coin collector's problem": symbol ``i`` owns one coin of face value ``2**-l`` for each
``l = 1..L``, each costing ``count_i``. A code of lengths ``l_i`` buys each symbol's ``l_i``
largest coins, paying face value ``sum (1 - 2**-l_i) = n - 1`` for a complete code, so the
cheapest purchase of face value ``n - 1`` is the best limited code. From ``l = L`` upwards, the
cheapest way to make ``2**-(l-1)`` is one coin of that value or a *package* of the two cheapest
``2**-l`` items: pair up the sorted list of one level, merge the pairs with the next level's
coins, and at level 1 buy the ``2n - 2`` cheapest items; ``O(n L)`` work, and optimal. JPEG's
Annex K.3 instead shortens an unlimited code by repeatedly lifting a pair of longest words and
lengthening a shorter one: simple and always valid, but not always optimal. ``huffman.encode``
passes ``max_length = 32``; the JPEG encoder calls ``code_lengths(counts, max_length=16)``.
"""

from __future__ import annotations

import heapq
import operator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..bitstream import as_byte_array
from . import _huffman_codes_kernels as kernels
from ._huffman_codes_kernels import MAX_CODE_LENGTH

__all__ = [
    "MAX_ALPHABET_SIZE", "MAX_CODE_LENGTH", "HuffmanNode", "build_tree", "canonical_codes",
    "check_code_lengths", "code_lengths", "entropy", "kraft_sum", "package_merge",
    "symbol_counts", "tree_code_lengths",
]

MAX_ALPHABET_SIZE = 2**16


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------
def _as_symbol_array(symbols) -> np.ndarray:
    """Symbols as a flat uint8 or uint16 array (no copy when already one); checks 0..65535."""
    if isinstance(symbols, (bytes, bytearray, memoryview)):
        return as_byte_array(symbols)
    array = np.asarray(symbols)
    if array.size == 0:  # np.asarray([]) is float64, yet an empty list is a fine input
        return np.zeros(0, dtype=np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"symbols must be integers, got dtype {array.dtype}")
    if array.dtype in (np.uint8, np.uint16):
        return array.ravel()
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= MAX_ALPHABET_SIZE:
        raise ValueError(f"symbols must be in 0..{MAX_ALPHABET_SIZE - 1}, got {low}..{high}")
    return array.ravel().astype(np.uint8 if high < 256 else np.uint16)


def symbol_counts(symbols, alphabet_size: int | None = None) -> np.ndarray:
    """How often each symbol occurs.

    Parameters
    ----------
    symbols : array_like of int, bytes or bytearray
        Symbols in 0..65535, any shape (flattened).
    alphabet_size : int, optional
        Length of the result, 1..65536. Default: largest symbol + 1 (0 without symbols).

    Returns
    -------
    counts : ndarray of int64, shape (alphabet_size,)
    """
    array = _as_symbol_array(symbols)
    largest = int(array.max()) if array.size else -1
    if alphabet_size is None:
        alphabet_size = largest + 1
    elif not 1 <= operator.index(alphabet_size) <= MAX_ALPHABET_SIZE:
        raise ValueError(f"alphabet_size must be in 1..{MAX_ALPHABET_SIZE}, got {alphabet_size}")
    if largest >= alphabet_size:
        raise ValueError(f"symbol {largest} is outside the alphabet 0..{alphabet_size - 1}")
    return kernels.count_symbols(array, alphabet_size)


def _as_counts(counts) -> np.ndarray:
    counts = np.asarray(counts)
    if counts.ndim != 1 or (counts.size and not np.issubdtype(counts.dtype, np.integer)):
        raise ValueError(f"counts must be a 1-D integer array, got {counts.dtype} {counts.shape}")
    if counts.size > MAX_ALPHABET_SIZE:
        raise ValueError(f"at most {MAX_ALPHABET_SIZE} symbols, got {counts.size}")
    # bound the total so that no sum of counts can overflow int64 (2**46 each for 65536)
    if counts.size and (counts.min() < 0 or counts.max() > 2**62 // counts.size):
        raise ValueError(f"counts must be in 0..2**62 / alphabet_size, got {counts.min()}..")
    return counts.astype(np.int64)


def entropy(counts) -> float:
    """Shannon entropy ``-sum p log2 p`` of ``counts`` (shape (alphabet_size,)), in bits/symbol.

    0.0 for one used symbol (or none); ``log2(n)`` for ``n`` equally frequent symbols.
    """
    counts = _as_counts(counts)
    used = counts[counts > 0].astype(np.float64)
    if used.size == 0:
        return 0.0
    p = used / used.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


# --------------------------------------------------------------------------------------------
# The tree and its code lengths
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, slots=True)
class HuffmanNode:
    """A node of a Huffman tree: a leaf (``symbol`` set) or a parent of ``zero`` and ``one``."""

    count: int
    symbol: int | None = None
    zero: HuffmanNode | None = None  # the subtree reached by a 0 bit
    one: HuffmanNode | None = None

    @property
    def is_leaf(self) -> bool:
        return self.symbol is not None


def build_tree(counts) -> HuffmanNode:
    """Huffman's greedy merge with a heap, ties broken by (count, age).

    Parameters
    ----------
    counts : array_like of int, shape (alphabet_size,)
        Zero-count symbols are left out of the tree.

    Returns
    -------
    HuffmanNode
        The root; the first node popped of each pair becomes the ``zero`` child. With one used
        symbol the root is that leaf (``tree_code_lengths`` still gives it 1 bit).
    """
    counts = _as_counts(counts)
    used = np.flatnonzero(counts)
    if used.size == 0:
        raise ValueError("no symbol has a nonzero count: there is nothing to code")
    # heap items (count, age, node): the leaves are the oldest, in symbol order, and each new
    # parent is younger than everything before it; ages make ties deterministic
    heap = [(int(counts[s]), s, HuffmanNode(int(counts[s]), symbol=s)) for s in used.tolist()]
    heapq.heapify(heap)
    age = counts.size
    while len(heap) > 1:
        count_0, _, first = heapq.heappop(heap)
        count_1, _, second = heapq.heappop(heap)
        parent = HuffmanNode(count_0 + count_1, zero=first, one=second)
        heapq.heappush(heap, (parent.count, age, parent))
        age += 1
    return heap[0][2]


def tree_code_lengths(tree: HuffmanNode, alphabet_size: int | None = None) -> np.ndarray:
    """Depth of every leaf: the code lengths, shape (alphabet_size,) uint8 (0 = not in the tree).

    ``alphabet_size`` defaults to the largest symbol in the tree + 1. A tree that is a single
    leaf gives that symbol length 1: a code word needs at least one bit.
    """
    depths: dict[int, int] = {}
    stack = [(tree, 0)]
    while stack:  # iterative: a skewed tree is too deep for recursion
        node, depth = stack.pop()
        if node.is_leaf:
            depths[node.symbol] = max(depth, 1)
        else:
            stack.extend([(node.one, depth + 1), (node.zero, depth + 1)])
    lengths = np.zeros(max(depths) + 1 if alphabet_size is None else alphabet_size, np.uint8)
    lengths[list(depths)] = list(depths.values())
    return lengths


def package_merge(counts, max_length: int) -> np.ndarray:
    """Optimal code lengths with every length ``<= max_length`` (Larmore & Hirschberg 1990).

    Parameters
    ----------
    counts : array_like of int, shape (alphabet_size,)
    max_length : int
        The limit ``L``; needs ``2**L >= n_used`` (else ``ValueError``).

    Returns
    -------
    lengths : ndarray of uint8, shape (alphabet_size,)
        Minimise ``sum(counts * lengths)`` under the limit; 0 for unused symbols.
    """
    counts = _as_counts(counts)
    used = np.flatnonzero(counts)
    n_used = used.size
    _check_limit(n_used, max_length)
    lengths = np.zeros(counts.size, dtype=np.uint8)
    if n_used <= 1:
        lengths[used] = 1
        return lengths
    max_length = min(max_length, n_used - 1)  # no code is ever longer: saves useless levels
    by_count = used[np.argsort(counts[used], kind="stable")]  # cheapest coins first
    leaf_weights = counts[by_count]
    # item lists from the deepest level L (the leaves alone) up to level 1: each level merges
    # the leaves with the packages (adjacent pairs) of the level below; keep which are packages
    is_package_by_level = [np.zeros(n_used, dtype=bool)]
    weights = leaf_weights
    for _ in range(max_length - 1):
        n_pairs = weights.size // 2
        packages = weights[0 : 2 * n_pairs : 2] + weights[1 : 2 * n_pairs : 2]
        merged = np.concatenate([leaf_weights, packages])
        order = np.argsort(merged, kind="stable")  # leaves before packages of equal weight
        weights = merged[order]
        is_package_by_level.append(order >= n_used)
    # buy the 2n - 2 cheapest items of level 1; a package bought means buying both its items
    # one level down. The leaves bought at a level are its cheapest ones, a prefix of by_count,
    # and each leaf bought adds one bit to its symbol's code.
    n_bought = 2 * n_used - 2
    for is_package in reversed(is_package_by_level):
        n_packages = int(np.count_nonzero(is_package[:n_bought]))
        lengths[by_count[: n_bought - n_packages]] += 1
        n_bought = 2 * n_packages
    return lengths


def _check_limit(n_used: int, max_length) -> None:
    max_length = operator.index(max_length)
    if max_length < 1 or (n_used > 1 and n_used > 2**max_length):
        raise ValueError(f"{n_used} symbols cannot all have codes of at most {max_length} bits")


def code_lengths(counts, max_length: int | None = None) -> np.ndarray:
    """Optimal prefix-code lengths for ``counts``, optionally limited to ``max_length`` bits.

    The unlimited lengths are the depths of ``build_tree``'s tree, computed by a compiled
    two-queue version of the same merge (identical ties, hence identical lengths; a test pins
    them). When they exceed ``max_length``, ``package_merge`` finds the optimal limited ones.

    Parameters
    ----------
    counts : array_like of int, shape (alphabet_size,)
    max_length : int, optional

    Returns
    -------
    lengths : ndarray of uint8, shape (alphabet_size,)
        0 for zero-count symbols; 1 for a lone used symbol.

    Raises
    ------
    ValueError
        If ``2**max_length`` is smaller than the number of used symbols.
    """
    counts = _as_counts(counts)
    used = np.flatnonzero(counts)
    if max_length is not None:
        _check_limit(used.size, max_length)
    lengths = np.zeros(counts.size, dtype=np.uint8)
    if used.size <= 1:
        lengths[used] = 1
        return lengths
    by_count = used[np.argsort(counts[used], kind="stable")]  # the heap's (count, age) order
    lengths[by_count] = kernels.huffman_depths_kernel(counts[by_count])
    if max_length is not None and int(lengths.max()) > max_length:
        return package_merge(counts, max_length)
    return lengths


# --------------------------------------------------------------------------------------------
# Canonical codes and Kraft's inequality
# --------------------------------------------------------------------------------------------
def kraft_sum(lengths) -> Fraction:
    """Exact ``sum(2**-l)`` over the used (non-zero) lengths; 1 for a complete code."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size and lengths.min() < 0:
        raise ValueError("code lengths must be non-negative")
    per_length = np.bincount(lengths[lengths > 0], minlength=1)
    return sum((Fraction(int(n), 2**length) for length, n in enumerate(per_length) if n),
               Fraction(0))


def check_code_lengths(lengths, require_complete: bool = True) -> np.ndarray:
    """Validate a code-length table and return it as uint8; ``ValueError`` if unusable.

    Policy: lengths are 0..32, at most 65536 of them, and Kraft's sum is at most 1 (more means
    some code word is a prefix of another). With ``require_complete`` (the stream format) the
    code must also waste nothing: Kraft sum exactly 1, or a single used symbol of length 1, or no
    used symbol. Without it any Kraft sum <= 1 is accepted: JPEG tables are incomplete on purpose
    (the all-ones word is reserved).

    Parameters
    ----------
    lengths : array_like of int, shape (alphabet_size,)
    require_complete : bool, optional
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or (lengths.size and not np.issubdtype(lengths.dtype, np.integer)):
        raise ValueError(f"code lengths must be a 1-D integer array, got {lengths.dtype}")
    if not 1 <= lengths.size <= MAX_ALPHABET_SIZE:
        raise ValueError(f"length table must have 1..{MAX_ALPHABET_SIZE} entries")
    if lengths.min() < 0 or lengths.max() > MAX_CODE_LENGTH:
        raise ValueError(f"code lengths must be in 0..{MAX_CODE_LENGTH}")
    lengths = lengths.astype(np.uint8)
    total = kraft_sum(lengths)
    if total > 1:
        raise ValueError(f"code lengths violate Kraft's inequality (sum {total} > 1)")
    lone_bit = int(np.count_nonzero(lengths)) == 1 and total == Fraction(1, 2)
    if require_complete and total not in (0, 1) and not lone_bit:
        raise ValueError(f"code is incomplete (Kraft sum {total} < 1)")
    return lengths


def canonical_codes(lengths) -> np.ndarray:
    """The canonical code of every symbol (Deflate/JPEG): by length, then by symbol value.

    Parameters
    ----------
    lengths : array_like of int, shape (alphabet_size,)
        A valid table (Kraft sum <= 1); 0 = unused.

    Returns
    -------
    codes : ndarray of uint64, shape (alphabet_size,)
        ``codes[s]`` holds ``lengths[s]`` bits; 0 for unused symbols.

    Examples
    --------
    >>> canonical_codes([2, 1, 3, 3]).tolist()   # b: 0, a: 10, c: 110, d: 111
    [2, 0, 6, 7]
    """
    lengths = check_code_lengths(lengths, require_complete=False)
    return kernels.canonical_codes_from_layout(lengths, kernels.canonical_layout(lengths))
