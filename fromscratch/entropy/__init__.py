"""Entropy coding (chapter 1): turning symbols into the fewest bits their statistics allow.

* ``huffman`` — Huffman's optimal prefix codes (1952): canonical and length-limited.
* ``range_coder`` — arithmetic coding as integer range coding (Rissanen, Pasco 1976; Martin 1979)
  with static, adaptive and per-symbol CDF-table models.

Both write real bytes and read them back; both raise
:class:`~fromscratch.bitstream.BitstreamError` for malformed streams.
"""
