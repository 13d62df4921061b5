"""Baseline JPEG (chapter 2, ITU-T T.81), written and read from scratch, one idea per file.

Encoding, in the order the data flows::

    tables          the standard's fixed tables: zigzag order, Annex K quantization and Huffman
                    tables, IJG quality scaling, the EOB and ZRL symbols
    encoder         the pixel stages (colour, chroma subsampling, MCUs, level shift, DCT,
                    quantization, DC prediction) and ``encode``, the whole encoder
    entropy_coding  run/size symbols of a block, Huffman tables (Annex K's or fitted),
                    the scan writer: Huffman codes, byte stuffing, restart markers
    markers         the marker segments around the scan (SOI, APP0, DQT, SOF0, DHT, DRI, SOS,
                    EOI), frame components, the ``optimize`` Huffman tables

Decoding, backwards::

    parser          markers and segments of any baseline file, and where its scan starts
    decoder         Huffman decoding of the scan, dequantization, inverse DCT, colour
    upsample        chroma back to full size, libjpeg's "fancy" triangle filter

``codec`` registers the pair as the ``jpeg`` codec (``fromscratch.compress(..., codec="jpeg")``).

Every module above is public: notebooks and readers import these names. The two that start with
``_`` hold the compiled loops: ``_encode_kernels`` the Numba twins of ``entropy_coding``'s
readable symbol counting and scan writing, ``_decode_kernels`` the scan decoder's kernel beside
its bit-at-a-time twin. Tests pin every kernel to its twin.
"""
