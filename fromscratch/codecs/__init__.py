"""The codecs: one file per codec, each registering itself by name (see ``base.py``).

Importing this package imports every codec module, which fills the registry. A chapter adds its
codec by writing ``codecs/<name>.py`` with a ``@register``-ed class and importing it below.
"""

from . import (  # noqa: F401  (imported to register them)
    balle2017,
    dpcm_huffman,
    mlp1987,
    mlp_predictive,
    patch_linear,
    pillow_reference,
    raw,
)
from .base import (
    Codec,
    ContainerCodec,
    Parameter,
    as_image,
    codec_class,
    codec_for_data,
    codec_names,
    get_codec,
    register,
)
from .jpeg import codec as _jpeg_codec  # noqa: F401

__all__ = [
    "Codec",
    "ContainerCodec",
    "Parameter",
    "as_image",
    "codec_class",
    "codec_for_data",
    "codec_names",
    "get_codec",
    "register",
]
