"""Encodings of the Channel Access contract: char waveforms, ZHEX, decoding writes."""

from __future__ import annotations

import binascii
import json
import re
import zlib
from typing import Any

import numpy as np

from ..contract import limits
from ..core.specs import Rejected

_HEX = re.compile(r"\A(?:[0-9a-fA-F]{2})+\Z")


def to_json(value: Any) -> str:
    """ASCII JSON text as the contract's JSON PVs hold it."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def zhex(text: str | bytes | memoryview) -> bytes:
    """The IBEX compress-and-hex form: hexlify(zlib.compress(text as UTF-8)).

    Bytes are taken as the UTF-8 already (e.g. a JSON PV's value without its NUL).
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    return binascii.hexlify(zlib.compress(data))


def json_value(text: str) -> bytes:
    """A JSON PV's value from its text (`to_json`: ASCII, no NUL): the bytes, NUL-terminated.

    Kept as they are by the publisher (`char_bytes` takes them without a copy), so a
    10,000-job `QUEUE` is held once, not as a str and again as the array pcaspy serves.
    """
    return text.encode("ascii") + b"\0"


def unzhex(data: str, limit: int = 100_000_000) -> str | None:
    """Decode the ZHEX form, or None if `data` is not ZHEX (even-length hex that inflates).

    Raises:
        Rejected: the inflated text would be longer than `limit` bytes.
    """
    if len(data) < 16 or not _HEX.match(data):
        return None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(binascii.unhexlify(data), limit)
        if not inflater.eof:
            if inflater.unconsumed_tail:
                raise Rejected(f"the ZHEX value inflates to more than {limit} bytes")
            return None
        return raw.decode("utf-8")
    except (zlib.error, UnicodeDecodeError, ValueError):
        return None


TAIL_BYTES = {"CURRENT:OUTPUT": limits.OUTPUT_TAIL_BYTES, "LOG": limits.OUTPUT_TAIL_BYTES}
"""Text PVs that show the last N bytes (after escaping) of their text: the newest part."""


def ascii_text(text: str) -> str:
    """Text as the contract's text PVs hold it: ASCII, anything else backslash-escaped.

    A NUL would end the char waveform early, so it is escaped as well. ASCII text without
    a NUL (every JSON PV's text) is returned as it is: no copy of a queue's megabytes.
    """
    if text.isascii() and "\0" not in text:
        return text
    return text.encode("ascii", "backslashreplace").decode("ascii").replace("\0", "\\x00")


def char_bytes(data: str | bytes, count: int, tail: int | None = None) -> tuple[bytes, bool]:
    """The NUL-terminated bytes of a char waveform of `count` elements.

    Text is escaped to ASCII (`ascii_text`); bytes already NUL-terminated that fit (a JSON
    PV's `json_value`) are returned as they are. Returns the bytes and whether they had to
    be cut to fit (`count - 1` bytes at most, so that CA gateways never see more than
    `count`). With `tail`, at most the last `tail` bytes are kept, from the start of a line
    when one begins near the cut, and the cut is not reported (that is the PV's stated
    bound).
    """
    if (
        tail is None
        and isinstance(data, bytes)
        and data.endswith(b"\0")
        and len(data) <= count
        and data.find(b"\0") == len(data) - 1
    ):
        return data, False
    raw = ascii_text(data).encode("ascii") if isinstance(data, str) else data
    if tail is not None and len(raw) > min(tail, count - 1):
        raw = raw[-min(tail, count - 1) :]
        newline = raw.find(b"\n", 0, 200)
        escape = raw.find(b"\\", 0, 10)  # do not start inside an escape such as \ufffd
        if newline >= 0:
            raw = raw[newline + 1 :]
        elif escape > 0:
            raw = raw[escape:]
    cut = len(raw) > count - 1
    if cut:
        raw = raw[: count - 1]
    return raw + b"\0", cut


def decode_write(value: Any, limit: int) -> str:
    """Text written to a char control PV, from what pcaspy hands over.

    pcaspy builds the str with one `chr()` per byte (Latin-1); the bytes are UTF-8.
    A value in the ZHEX form is decompressed.

    Raises:
        Rejected: not UTF-8, too long, or not text.
    """
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    elif isinstance(value, str):
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            raw = value.encode("utf-8")
    elif isinstance(value, (list, tuple, np.ndarray)):
        try:
            raw = bytes(int(v) & 0xFF for v in value)
        except (TypeError, ValueError):
            raise Rejected("the value is not text") from None
    else:
        raw = str(value).encode("ascii")
    raw = raw.split(b"\0", 1)[0]
    if len(raw) >= limit:
        raise Rejected(
            f"the value is {len(raw)} bytes; at most {limit - 1} (MAX_WRITE_BYTES) are accepted, "
            "and a longer write may have been cut short by the client"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(
            f"the value is not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})"
        ) from None
    inflated = unzhex(text.strip(), limit - 1)
    if inflated is not None:
        text = inflated
    if "\0" in text:
        raise Rejected("the value contains a NUL character")
    return text
