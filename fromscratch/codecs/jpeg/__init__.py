"""Baseline JPEG (chapter 2), written and read from scratch: ``tables`` (the standard's fixed
tables), the encoder and the decoder."""
