"""Test-session settings shared by the unit tests and the notebooks (run through nbmake).

Notebooks read ``FROMSCRATCH_FAST=1`` to shrink their work; ``pytest`` sets it unless the caller
chose otherwise, so the test command stays fast while users running the notebooks get the full
versions.
"""

import os

os.environ.setdefault("FROMSCRATCH_FAST", "1")
# Matplotlib must not try to open windows while notebooks and tests run headless.
os.environ.setdefault("MPLBACKEND", "Agg")
