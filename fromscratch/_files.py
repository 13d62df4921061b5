"""Small file-system helper shared by the modules that write files atomically."""

from __future__ import annotations

import os


def default_file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 minus the umask).

    Atomic writes go through ``tempfile.mkstemp``, which creates files readable by their owner
    only (0o600); the final file should look like any other the user creates.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
