"""Transforms: the first box of the pipeline, which reshapes pixels so that they cost fewer bits.

* ``dpcm`` — predictive coding: keep each pixel's prediction error (lossless).

Later chapters add the DCT (``dct``) and motion compensation.
"""
