"""How the client reads char waveforms: text and JSON, with and without orjson."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scriptserver_ioc.client import channels
from scriptserver_ioc.client.channels import ClientError, decode_json, decode_text


def waveform(data: bytes, count: int | None = None) -> np.ndarray:
    """What pyepics gives for a read: uint8 values, NUL-terminated, maybe padded to a count."""
    raw = data + b"\0"
    return np.frombuffer(raw + b"\0" * ((count or len(raw)) - len(raw)), dtype=np.uint8)


RECORDS = [{"id": 7, "name": "set_ei(25)", "args": {"energy": 25.0}, "script": None}]


@pytest.fixture(params=["orjson", "json"])
def decoder(request, monkeypatch):
    """Each reader the client may have: orjson when installed, else the `json` module."""
    if request.param == "orjson":
        pytest.importorskip("orjson")
    else:
        monkeypatch.setattr(channels, "orjson", None)
    return request.param


def test_GIVEN_json_value_padded_to_full_count_WHEN_decoded_THEN_records_up_to_the_nul(decoder):
    text = json.dumps(RECORDS)
    assert decode_json(waveform(text.encode(), count=len(text) + 500)) == RECORDS
    assert decode_json(waveform(text.encode())) == RECORDS
    assert decode_json(text.encode()) == RECORDS


def test_GIVEN_json_orjson_refuses_WHEN_decoded_THEN_read_as_the_json_module_does(decoder):
    text = '{"big": 123456789012345678901234567890, "nan": NaN}'
    value = decode_json(waveform(text.encode()))
    assert value["big"] == 123456789012345678901234567890 and value["nan"] != value["nan"]


def test_GIVEN_utf8_and_bad_bytes_WHEN_decoded_THEN_text_and_replacement_character(decoder):
    assert decode_text(waveform("µs €".encode())) == "µs €"
    assert decode_text(waveform(b"ok \xff")) == "ok \ufffd"
    assert decode_json(waveform('{"unit": "µs"}'.encode())) == {"unit": "µs"}


def test_GIVEN_no_value_WHEN_decoded_THEN_client_error_says_so(decoder):
    with pytest.raises(ClientError, match="no value"):
        decode_json(None)
    with pytest.raises(json.JSONDecodeError):
        decode_json(waveform(b"[1, 2"))
