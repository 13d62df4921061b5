"""Reading a JPEG file's structure: markers, segments, and the entropy-coded data between them.

A JPEG file (ITU-T T.81 Annex B, 1992) is a sequence of **markers**: the byte ``0xFF`` followed by
one code byte. Most markers start a **segment**, a two-byte big-endian length (which counts itself)
and that many bytes minus two of payload; a few stand alone (SOI, EOI, RST0..RST7). A baseline file
reads::

    SOI                      FF D8    start of image
    APPn / COM  (skipped)    FF En / FF FE   JFIF, Exif, Adobe, ICC profile, comments
    DQT                      FF DB    quantization tables: 64 values each, in zigzag order
    SOF0 (or SOF1)           FF C0    frame: precision, height, width, components and their
                                      sampling factors and quantization table numbers
    DHT                      FF C4    Huffman tables as (bits[16], values): JPEG's compact form
    DRI         (optional)   FF DD    restart interval: MCUs between RST markers
    SOS                      FF DA    scan: which components, which Huffman tables
      entropy-coded data              the Huffman-coded blocks, with RSTn markers in between
    EOI                      FF D9    end of image

Tables may come in any order before the SOS that uses them, several tables may share one
segment, and a later table with the same number replaces an earlier one. Any marker may be
preceded by extra ``0xFF`` *fill* bytes.

Inside the entropy-coded data a ``0xFF`` data byte would look like a marker, so the encoder
**stuffs** a ``0x00`` after it; the decoder removes it (``FF 00`` -> ``FF``). A ``0xFF`` followed
by ``D0..D7`` is a restart marker: the encoder flushed its bits to a byte boundary and reset the
DC predictions, so a decoder can resynchronise after damage. ``decoder.split_entropy_data``
finds the end of the scan, removes the stuffing and cuts the data at the restart markers.

This decoder reads **baseline sequential** files, 8-bit, with one or three components in a
single interleaved scan (what Pillow, cameras and web encoders write). Everything else in the
standard is recognised and refused with :class:`~fromscratch.bitstream.BitstreamError` naming
what is unsupported: progressive, lossless, hierarchical and arithmetic-coded frames, 12-bit
samples, 2 or 4 components (CMYK), the DNL marker (height given after the scan), and sequential
files with several scans. Any malformed segment is refused with the byte offset where it sits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...bitstream import BitstreamError
from ...container import MAX_IMAGE_PIXELS

__all__ = [
    "Component",
    "Frame",
    "HuffmanTable",
    "JpegFile",
    "ScanComponent",
    "check_after_scan",
    "parse",
]

SOI, EOI, SOS, DHT, DQT, DRI, DNL, COM = 0xD8, 0xD9, 0xDA, 0xC4, 0xDB, 0xDD, 0xDC, 0xFE
SUPPORTED_FRAMES = {0xC0: "baseline sequential (SOF0)", 0xC1: "extended sequential (SOF1)"}
UNSUPPORTED_MARKERS = {
    0xC2: "progressive JPEG (SOF2)",
    0xC3: "lossless JPEG (SOF3)",
    0xC5: "hierarchical JPEG (SOF5)",
    0xC6: "hierarchical progressive JPEG (SOF6)",
    0xC7: "hierarchical lossless JPEG (SOF7)",
    0xC9: "arithmetic-coded JPEG (SOF9)",
    0xCA: "arithmetic-coded progressive JPEG (SOF10)",
    0xCB: "arithmetic-coded lossless JPEG (SOF11)",
    0xCC: "arithmetic coding conditioning (DAC)",
    0xCD: "arithmetic-coded hierarchical JPEG (SOF13)",
    0xCE: "arithmetic-coded hierarchical progressive JPEG (SOF14)",
    0xCF: "arithmetic-coded hierarchical lossless JPEG (SOF15)",
    DNL: "a DNL marker (image height defined after the scan)",
    0xDE: "hierarchical JPEG (DHP)",
    0xDF: "hierarchical JPEG (EXP)",
}
RST0 = 0xD0  # RST0..RST7 are D0..D7
MAX_BLOCKS_IN_MCU = 10  # T.81 B.2.3: an interleaved MCU holds at most 10 blocks


@dataclass(frozen=True)
class Component:
    """One colour component of the frame (SOF): its id, sampling factors and quant table."""

    identifier: int
    h: int  # horizontal sampling factor, 1 or 2 here
    v: int  # vertical sampling factor
    quant_table: int


@dataclass(frozen=True)
class Frame:
    """The SOF segment: what the image is."""

    marker: int
    precision: int
    height: int
    width: int
    components: tuple[Component, ...]

    @property
    def h_max(self) -> int:
        return max(c.h for c in self.components)

    @property
    def v_max(self) -> int:
        return max(c.v for c in self.components)


@dataclass(frozen=True)
class HuffmanTable:
    """A DHT table in JPEG's form: ``bits[l - 1]`` codes of length l, then values in code order."""

    bits: np.ndarray  # int64 (16,)
    values: np.ndarray  # uint8 (sum(bits),)


@dataclass(frozen=True)
class ScanComponent:
    """A component of the scan with the tables in force when its SOS was read."""

    index: int  # position in Frame.components
    dc_table: HuffmanTable
    ac_table: HuffmanTable
    quant_table: np.ndarray  # int64 (64,), zigzag order


@dataclass(frozen=True)
class JpegFile:
    """Everything :func:`parse` learned; ``entropy_start`` is the first byte after the SOS."""

    frame: Frame
    scan: tuple[ScanComponent, ...]
    restart_interval: int
    entropy_start: int
    saw_jfif: bool
    adobe_transform: int | None


def _u16(data: bytes, offset: int) -> int:
    return (data[offset] << 8) | data[offset + 1]


def _read_marker(data: bytes, position: int) -> tuple[int, int]:
    """The marker at ``position`` (fill bytes skipped): (code, offset of the byte after it)."""
    if position >= len(data):
        raise BitstreamError(f"file ends at byte {position} before the EOI marker (truncated?)")
    if data[position] != 0xFF:
        raise BitstreamError(f"expected a marker at byte {position}, found 0x{data[position]:02X}")
    while position < len(data) and data[position] == 0xFF:  # fill bytes: any number of FFs
        position += 1
    if position >= len(data):
        raise BitstreamError("file ends inside a marker (truncated?)")
    code = data[position]
    if code == 0x00:
        raise BitstreamError(f"invalid marker FF 00 at byte {position - 1}")
    return code, position + 1


def _segment(data: bytes, position: int, code: int) -> bytes:
    """Payload of the segment whose length field starts at ``position``."""
    if position + 2 > len(data):
        raise BitstreamError(f"file ends inside the length of marker FF {code:02X} (truncated?)")
    length = _u16(data, position)
    if length < 2:
        raise BitstreamError(f"segment FF {code:02X} at byte {position - 2} has length {length}")
    if position + length > len(data):
        raise BitstreamError(
            f"segment FF {code:02X} at byte {position - 2} (length {length}) runs past the end "
            f"of the {len(data)}-byte file"
        )
    return data[position + 2 : position + length]


def _parse_frame(code: int, payload: bytes, where: int) -> Frame:
    if len(payload) < 6:
        raise BitstreamError(f"SOF segment at byte {where} is too short ({len(payload)} bytes)")
    precision, height, width, n_components = (
        payload[0], _u16(payload, 1), _u16(payload, 3), payload[5])
    if precision != 8:
        raise BitstreamError(f"{precision}-bit samples are not supported (only 8-bit), "
                             f"SOF at byte {where}")
    if n_components in (2, 4):
        kind = "CMYK/YCCK" if n_components == 4 else "two-component"
        raise BitstreamError(f"{n_components}-component ({kind}) JPEG is not supported "
                             "(only 1 or 3 components)")
    if n_components not in (1, 3):
        raise BitstreamError(f"invalid number of components {n_components} in SOF at byte {where}")
    if len(payload) != 6 + 3 * n_components:
        raise BitstreamError(f"SOF segment at byte {where} has {len(payload)} bytes, "
                             f"expected {6 + 3 * n_components} for {n_components} components")
    if height == 0:
        raise BitstreamError(
            f"SOF at byte {where} has height 0: the height would follow in a DNL marker, "
            "which is not supported")
    if width == 0:
        raise BitstreamError(f"SOF at byte {where} has width 0")
    if height * width > MAX_IMAGE_PIXELS:
        raise BitstreamError(
            f"image of {width} x {height} = {width * height} pixels exceeds the limit of "
            f"{MAX_IMAGE_PIXELS} (fromscratch.container.MAX_IMAGE_PIXELS)")
    components = []
    for i in range(n_components):
        identifier, factors, quant_table = payload[6 + 3 * i : 9 + 3 * i]
        h, v = factors >> 4, factors & 15
        if not (1 <= h <= 4 and 1 <= v <= 4):
            raise BitstreamError(f"invalid sampling factors {h}x{v} for component {identifier}")
        if h > 2 or v > 2:
            raise BitstreamError(f"sampling factors {h}x{v} are not supported (only 1 or 2)")
        if quant_table > 3:
            raise BitstreamError(f"component {identifier} uses quantization table "
                                 f"{quant_table} (0..3 allowed)")
        if any(c.identifier == identifier for c in components):
            raise BitstreamError(f"component id {identifier} appears twice in the SOF")
        components.append(Component(identifier, h, v, quant_table))
    frame = Frame(code, precision, height, width, tuple(components))
    if n_components > 1 and sum(c.h * c.v for c in components) > MAX_BLOCKS_IN_MCU:
        raise BitstreamError(f"an MCU of {sum(c.h * c.v for c in components)} blocks exceeds "
                             f"the limit of {MAX_BLOCKS_IN_MCU}")
    return frame


def _parse_quant_tables(payload: bytes, where: int, tables: dict) -> None:
    """DQT: one or more (Pq/Tq byte, 64 values of 8 or 16 bits) in zigzag order."""
    position = 0
    while position < len(payload):
        precision, number = payload[position] >> 4, payload[position] & 15
        if precision > 1 or number > 3:
            raise BitstreamError(f"invalid DQT table header 0x{payload[position]:02X} at byte "
                                 f"{where + position}")
        size = 64 * (precision + 1)
        if position + 1 + size > len(payload):
            raise BitstreamError(f"DQT table {number} at byte {where + position} is truncated")
        raw = np.frombuffer(payload, dtype=">u2" if precision else np.uint8, count=64,
                            offset=position + 1)
        if raw.min() == 0:
            raise BitstreamError(f"DQT table {number} at byte {where + position} contains a zero")
        tables[number] = raw.astype(np.int64)
        position += 1 + size


def _parse_huffman_tables(payload: bytes, where: int, tables: dict) -> None:
    """DHT: one or more (Tc/Th byte, bits[16], values); checks counts and Kraft's inequality."""
    position = 0
    while position < len(payload):
        table_class, number = payload[position] >> 4, payload[position] & 15
        if table_class > 1 or number > 3:
            raise BitstreamError(f"invalid DHT table header 0x{payload[position]:02X} at byte "
                                 f"{where + position}")
        if position + 17 > len(payload):
            raise BitstreamError(f"DHT table at byte {where + position} is truncated")
        bits = np.frombuffer(payload, np.uint8, 16, position + 1).astype(np.int64)
        n_values = int(bits.sum())
        if n_values > 256:
            raise BitstreamError(f"DHT table at byte {where + position} lists {n_values} codes "
                                 "(at most 256)")
        # Kraft: sum bits[l] 2**-l <= 1, in units of 2**-16 to stay in integers
        if int((bits << np.arange(15, -1, -1)).sum()) > 1 << 16:
            raise BitstreamError(f"DHT table at byte {where + position} violates Kraft's "
                                 "inequality: more codes than a prefix code can have")
        if position + 17 + n_values > len(payload):
            raise BitstreamError(f"DHT table at byte {where + position} is truncated")
        values = np.frombuffer(payload, np.uint8, n_values, position + 17).copy()
        tables[(table_class, number)] = HuffmanTable(bits, values)
        position += 17 + n_values


def _parse_scan(payload: bytes, where: int, frame: Frame, quant_tables: dict,
                huffman_tables: dict) -> tuple[ScanComponent, ...]:
    n_scan = payload[0] if payload else 0
    if not 1 <= n_scan <= 4 or len(payload) != 4 + 2 * n_scan:
        raise BitstreamError(f"malformed SOS segment at byte {where}")
    if n_scan > len(frame.components):
        raise BitstreamError(f"scan at byte {where} names {n_scan} components, the frame has "
                             f"{len(frame.components)}")
    if n_scan < len(frame.components):
        raise BitstreamError(
            f"scan at byte {where} holds {n_scan} of {len(frame.components)} components: "
            "sequential JPEG with several scans is not supported")
    start, end, approximation = payload[-3], payload[-2], payload[-1]
    if (start, end, approximation) != (0, 63, 0):
        raise BitstreamError(f"scan at byte {where} has spectral selection {start}..{end} and "
                             f"approximation 0x{approximation:02X}; sequential needs 0..63, 0")
    scan, previous = [], -1
    for i in range(n_scan):
        identifier, tables = payload[1 + 2 * i], payload[2 + 2 * i]
        index = next((k for k, c in enumerate(frame.components) if c.identifier == identifier),
                     None)
        if index is None or index <= previous:  # T.81 B.2.3: in frame order, each once
            raise BitstreamError(f"scan at byte {where} names component {identifier}, which is "
                                 "not in the frame or out of order")
        previous = index
        dc, ac = (0, tables >> 4), (1, tables & 15)
        for table_class, number in (dc, ac):
            if (table_class, number) not in huffman_tables:
                kind = "DC" if table_class == 0 else "AC"
                raise BitstreamError(f"scan at byte {where} uses undefined {kind} Huffman table "
                                     f"{number}")
        quant_number = frame.components[index].quant_table
        if quant_number not in quant_tables:
            raise BitstreamError(f"component {identifier} uses undefined quantization table "
                                 f"{quant_number}")
        scan.append(ScanComponent(index, huffman_tables[dc], huffman_tables[ac],
                                  quant_tables[quant_number]))
    return tuple(scan)


def parse(data: bytes) -> JpegFile:
    """Read every marker segment up to the first SOS; check what the decoder relies on.

    Parameters
    ----------
    data : bytes
        The whole file.

    Returns
    -------
    JpegFile
        Frame, scan (with its tables resolved), restart interval, where the entropy-coded data
        starts, and the colour hints (JFIF seen, Adobe transform flag).

    Raises
    ------
    BitstreamError
        For malformed segments and for every kind of JPEG this decoder does not support.
    """
    if len(data) < 2 or data[0] != 0xFF or data[1] != SOI:
        raise BitstreamError(f"not a JPEG file: starts with {bytes(data[:2]).hex(' ') or 'nothing'}"
                             ", not the SOI marker FF D8")
    quant_tables: dict[int, np.ndarray] = {}
    huffman_tables: dict[tuple[int, int], HuffmanTable] = {}
    frame, restart_interval, saw_jfif, adobe_transform = None, 0, False, None
    position = 2
    while True:
        where = position
        code, position = _read_marker(data, position)
        if code == EOI:
            raise BitstreamError(f"EOI at byte {where} before any scan: the file has no image")
        if code == SOI or RST0 <= code <= RST0 + 7 or code == 0x01:
            raise BitstreamError(f"unexpected marker FF {code:02X} at byte {where}")
        if code in UNSUPPORTED_MARKERS:
            raise BitstreamError(f"{UNSUPPORTED_MARKERS[code]} is not supported "
                                 f"(marker FF {code:02X} at byte {where})")
        payload = _segment(data, position, code)
        position += 2 + len(payload)
        if code in SUPPORTED_FRAMES:
            if frame is not None:
                raise BitstreamError(f"second SOF marker at byte {where}")
            frame = _parse_frame(code, payload, where)
        elif code == DQT:
            _parse_quant_tables(payload, where + 4, quant_tables)
        elif code == DHT:
            _parse_huffman_tables(payload, where + 4, huffman_tables)
        elif code == DRI:
            if len(payload) != 2:
                raise BitstreamError(f"DRI segment at byte {where} has {len(payload)} bytes, not 2")
            restart_interval = _u16(payload, 0)
        elif code == 0xE0 and payload[:5] == b"JFIF\0":
            saw_jfif = True
        elif code == 0xEE and payload[:5] == b"Adobe" and len(payload) >= 12:
            adobe_transform = payload[11]
        elif code == SOS:
            if frame is None:
                raise BitstreamError(f"SOS at byte {where} before any SOF marker")
            scan = _parse_scan(payload, where, frame, quant_tables, huffman_tables)
            return JpegFile(frame, scan, restart_interval, position, saw_jfif, adobe_transform)
        elif not (0xE0 <= code <= 0xEF or code == COM):
            raise BitstreamError(f"unknown marker FF {code:02X} at byte {where}")


def check_after_scan(data: bytes, position: int) -> None:
    """Read the markers after the scan up to EOI: tables and comments are skipped, but another
    SOS (a multi-scan file) or DNL is unsupported, and a missing EOI means a truncated file."""
    while True:
        where = position
        code, position = _read_marker(data, position)
        if code == EOI:
            return
        if code == SOS:
            raise BitstreamError(f"second scan at byte {where}: JPEG files with several scans "
                                 "are not supported")
        if code in UNSUPPORTED_MARKERS:
            raise BitstreamError(f"{UNSUPPORTED_MARKERS[code]} is not supported "
                                 f"(marker FF {code:02X} at byte {where})")
        if not (code in (DHT, DQT, DRI, COM) or 0xE0 <= code <= 0xEF):
            raise BitstreamError(f"unexpected marker FF {code:02X} at byte {where} after the scan")
        position += 2 + len(_segment(data, position, code))
