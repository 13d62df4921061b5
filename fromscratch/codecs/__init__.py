"""The codecs: one package per codec family, each registering its codecs by name (``base.py``).

=======================  ==============================================  ====================
where                    what                                            registered names
=======================  ==============================================  ====================
``base.py``              the Codec interface, parameters, the registry   —
``raw.py``               uncompressed pixels in the container            ``raw``
``dpcm_huffman.py``      ch. 1: DPCM predictors + canonical Huffman      ``huffman``
``jpeg/``                ch. 2: baseline JPEG (JFIF), encoder + decoder  ``jpeg``
``patch/``               ch. 3: 8 x 8 patch transform codecs             ``mlp1987``, ``klt``,
                                                                         ``dct-zonal``
``mlp_predictive/``      ch. 3: lossless coding with an MLP predictor    ``mlp-predictive``
``balle2017/``           ch. 4: CNN + GDN + factorized entropy model     ``balle2017``
``balle2018/``           ch. 6: + scale hyperprior (side information)    ``balle2018``
``pillow_reference.py``  Pillow's codecs, only to compare against        ``pillow-*``
=======================  ==============================================  ====================

Each family's ``__init__`` docstring maps its files and says what is public. Importing this
package imports every family, which fills the registry. A chapter adds a codec family as
``codecs/<family>/`` with ``@register``-ed classes and imports it below (see ARCHITECTURE.md).
"""

from . import (  # noqa: F401  (imported to register them)
    balle2017,
    balle2018,
    dpcm_huffman,
    gan2017,
    mlp_predictive,
    patch,
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
