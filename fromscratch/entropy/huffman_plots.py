"""Looking inside a Huffman code: the tree, the code table and the numbers that judge them.

``plot_tree`` draws the tree that Huffman's greedy merge builds (``huffman_codes.build_tree``):
leaves show a symbol and its count, inner nodes the sum of their subtree's counts, edges the bit
they stand for. ``plot_code_table`` lists what the stream really uses: the *canonical* code, which
has the same lengths as the tree (so the same cost) but renumbers the words in (length, symbol)
order, so its bits differ from the tree's paths. ``code_summary`` returns the numbers.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import huffman_codes

__all__ = ["code_summary", "plot_code_table", "plot_tree"]


def code_summary(counts, max_length: int | None = None) -> dict:
    """The numbers that judge a code built for ``counts`` (shape (alphabet_size,)).

    Returns
    -------
    dict
        ``n_used``, ``max_length`` (longest word), ``kraft_sum`` (a Fraction, 1 for >= 2 used
        symbols), ``average_length`` and ``entropy`` in bits/symbol, and ``redundancy``, their
        difference: ``0 <= redundancy < 1`` for a Huffman code.
    """
    counts = np.asarray(counts, dtype=np.int64)
    lengths = huffman_codes.code_lengths(counts, max_length)
    total = int(counts.sum())
    average = float((counts * lengths).sum() / total) if total else 0.0
    bits_per_symbol = huffman_codes.entropy(counts)
    return {
        "n_used": int(np.count_nonzero(counts)),
        "max_length": int(lengths.max()) if lengths.size else 0,
        "kraft_sum": huffman_codes.kraft_sum(lengths),
        "average_length": average,
        "entropy": bits_per_symbol,
        "redundancy": average - bits_per_symbol,
    }


def _label(symbol: int, labels) -> str:
    if labels is None:
        return str(symbol)
    return str(labels[symbol])


def _layout(tree: huffman_codes.HuffmanNode) -> dict[int, tuple[float, int]]:
    """(x, depth) of every node by ``id``: leaves 0, 1, 2, ... left to right, parents centred."""
    positions: dict[int, tuple[float, int]] = {}
    n_leaves = 0
    stack = [(tree, 0, False)]
    while stack:  # post-order without recursion: children are placed before their parent
        node, depth, children_done = stack.pop()
        if node.is_leaf:
            positions[id(node)] = (float(n_leaves), depth)
            n_leaves += 1
        elif children_done:
            x = (positions[id(node.zero)][0] + positions[id(node.one)][0]) / 2
            positions[id(node)] = (x, depth)
        else:
            stack += [(node, depth, True), (node.one, depth + 1, False),
                      (node.zero, depth + 1, False)]
    return positions


def plot_tree(counts_or_tree, labels=None, ax=None):
    """Draw a Huffman tree: leaves with symbol and count, edges labelled 0 and 1.

    Parameters
    ----------
    counts_or_tree : array_like of int, shape (alphabet_size,), or HuffmanNode
        Counts (the tree is built with ``huffman_codes.build_tree``) or a tree.
    labels : sequence or mapping, optional
        ``labels[symbol]`` is printed instead of the symbol number, e.g. ``{97: "a"}``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure sized to the tree.

    Returns
    -------
    matplotlib.axes.Axes
    """
    tree = counts_or_tree
    if not isinstance(tree, huffman_codes.HuffmanNode):
        tree = huffman_codes.build_tree(counts_or_tree)
    positions = _layout(tree)
    n_leaves = 1 + max(x for x, _ in positions.values())
    depth = max(d for _, d in positions.values())
    if ax is None:
        _, ax = plt.subplots(figsize=(min(2 + 0.7 * n_leaves, 20), 1.5 + 0.9 * depth))
    stack = [tree]
    while stack:
        node = stack.pop()
        x, d = positions[id(node)]
        if node.is_leaf:
            ax.text(x, -d, f"{_label(node.symbol, labels)}\n{node.count}", ha="center",
                    va="center", fontsize=9, bbox={"boxstyle": "round", "fc": "#dbe9f6"})
            continue
        ax.text(x, -d, str(node.count), ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "circle", "fc": "white"})
        for bit, child in ((0, node.zero), (1, node.one)):
            child_x, child_d = positions[id(child)]
            ax.plot([x, child_x], [-d, -child_d], color="0.5", zorder=0)
            ax.text((x + child_x) / 2, -(d + child_d) / 2, str(bit), color="tab:red",
                    ha="right" if bit == 0 else "left", va="bottom", fontsize=9)
            stack.append(child)
    ax.set_xlim(-0.7, n_leaves - 0.3)
    ax.set_ylim(-depth - 0.6, 0.6)
    ax.axis("off")
    return ax


def plot_code_table(counts, ax=None, labels=None, max_length: int | None = None,
                    max_rows: int = 40):
    """Table of symbol, count, probability, code length and canonical code bits.

    Parameters
    ----------
    counts : array_like of int, shape (alphabet_size,)
    ax : matplotlib.axes.Axes, optional
    labels : sequence or mapping, optional
        Printed instead of the symbol numbers.
    max_length : int, optional
        Length limit passed to ``huffman_codes.code_lengths``.
    max_rows : int, optional
        At most this many used symbols (in canonical order, shortest codes first) are listed.

    Returns
    -------
    matplotlib.axes.Axes
    """
    counts = np.asarray(counts, dtype=np.int64)
    lengths = huffman_codes.code_lengths(counts, max_length)
    codes = huffman_codes.canonical_codes(lengths)
    used = np.flatnonzero(lengths)
    order = used[np.lexsort((used, lengths[used]))]  # canonical order: length, then symbol
    total = counts.sum()
    rows = [
        [_label(s, labels), str(counts[s]), f"{counts[s] / total:.4f}", str(lengths[s]),
         format(int(codes[s]), f"0{lengths[s]}b")]
        for s in order[:max_rows].tolist()
    ]
    if order.size > max_rows:
        rows.append(["…"] * 5)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.6 + 0.25 * len(rows)))
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=["symbol", "count", "probability", "length",
                                               "code"], loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    summary = code_summary(counts, max_length)
    ax.set_title(f"{summary['average_length']:.3f} bits/symbol, entropy "
                 f"{summary['entropy']:.3f}, Kraft sum {summary['kraft_sum']}", fontsize=10)
    return ax
