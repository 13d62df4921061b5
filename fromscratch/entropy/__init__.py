"""Entropy coding (chapter 1): turning symbols into the fewest bits their statistics allow.

Every coder here writes real bytes and reads them back, and raises
:class:`~fromscratch.bitstream.BitstreamError` for malformed streams. The map, one idea per file
(read the module docstrings in this order; each is a short lecture):

Huffman codes (1952)
    * ``huffman_codes`` — building the code: symbol counts and entropy, Huffman's greedy merge
      (the tree), package-merge length limiting, Kraft's inequality and canonical codes.
    * ``huffman`` — the stream: ``encode``/``decode`` with a stored code-length table, and the
      header-less ``encode_with_table``/``decode_with_table`` for formats such as JPEG. Re-exports
      the public names of ``huffman_codes``, so ``huffman`` alone serves chapter 1.
    * ``huffman_plots`` — drawing a code: ``plot_tree``, ``plot_code_table``, ``code_summary``
      (matplotlib; it imports the algorithm, never the reverse).

Arithmetic coding as range coding (Rissanen, Pasco 1976; Martin 1979)
    * ``range_coder`` — the lecture on coding by narrowing an interval, and the two models that
      code a whole message with one table: static and adaptive (re-exports ``indexed_coder``'s
      two functions and the ``cdf_tables`` helpers it always offered).
    * ``indexed_coder`` — one CDF table per symbol, chosen by index, with escapes for values
      outside the table: the interface learned codecs drive (CompressAI's).
    * ``context_coder`` — one adaptive table per *context*, a number both sides compute from
      data already coded (how busy the neighbourhood is): the conditional entropy ``H(X | C)``.
    * ``cdf_tables`` — from counts or pmfs to exact integer frequency and CDF tables, and the
      checks every model runs before a kernel sees its input.
    * ``range_engine`` — the coder itself in plain Python integers (``RangeEncoder``,
      ``RangeDecoder``): the reference the kernels are pinned to; the kernels' output bound and
      status handling.

Compiled kernels (private: each sits beside the readable function it speeds up)
    ``_huffman_codes_kernels`` (counting, Huffman's merge, canonical layout), ``_huffman_kernels``
    (packing, table-driven decoding, the stored length table), ``_range_kernels``,
    ``_context_kernels``.

Public: the modules without a leading underscore and the names in their ``__all__``. Notebooks
and readers use those; other packages of ``fromscratch`` may also use the kernels (JPEG's scan
coder shares ``_huffman_kernels``' decode tables and bit buffer).
"""
