"""The generated Avro decoders read exactly what fastavro reads, and refuse exactly what it refuses."""

from __future__ import annotations

import io

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import AvroCodec
from schemas.decoders import compile_decoder, read_long
from schemas.exceptions import CodecError
from schemas.registry import default_registry

SCHEMAS = sorted(default_registry().by_id.values(), key=lambda s: s.schema_id)
LONGS = st.integers(min_value=-(2**63), max_value=2**63 - 1)
INTS = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def values(schema) -> st.SearchStrategy:  # noqa: ANN001
    """Valid values of a (parsed, logical-types-stripped) schema."""
    if isinstance(schema, list):
        return st.one_of(*(values(branch) for branch in schema))
    kind = schema["type"] if isinstance(schema, dict) else schema
    if isinstance(kind, (dict, list)):
        return values(kind)
    simple = {"string": st.text(max_size=80), "bytes": st.binary(max_size=80), "long": LONGS, "int": INTS,
              "double": st.floats(allow_nan=False), "null": st.none(), "boolean": st.booleans()}
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(values(schema["items"]), max_size=6)
    assert kind == "record", kind
    return st.fixed_dictionaries({f["name"]: values(f["type"]) for f in schema["fields"]})


def fastavro_outcome(schema, body: bytes):  # noqa: ANN001
    buf = io.BytesIO(body)
    try:
        return "ok", schemaless_reader(buf, schema, None), buf.tell()
    except Exception:  # noqa: BLE001 - any refusal counts as one
        return ("error",)


def generated_outcome(decoder, body: bytes):  # noqa: ANN001
    try:
        record, end = decoder(body, 0)
    except (IndexError, ValueError) as exc:
        # True: a refusal where fastavro reads on, on purpose (see schemas/decoders.py)
        return ("error", any(f in str(exc) for f in ("varint", "union branch -", "enum index -")))
    return "ok", record, end


def test_every_registered_schema_gets_a_generated_decoder():
    assert all(compile_decoder(s.parsed) is not None for s in SCHEMAS)


@pytest.mark.parametrize("registered", SCHEMAS, ids=lambda s: s.full_name)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_bodies_decode_as_fastavro_decodes_them(registered, data):
    record = data.draw(values(registered.parsed))
    buf = io.BytesIO()
    schemaless_writer(buf, registered.parsed, record)
    body = buf.getvalue()
    decoder = compile_decoder(registered.parsed)
    assert generated_outcome(decoder, body) == fastavro_outcome(registered.parsed, body) == ("ok", record, len(body))


@pytest.mark.parametrize("registered", SCHEMAS, ids=lambda s: s.full_name)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_corrupted_bodies_are_refused_or_read_exactly_as_fastavro_reads_them(registered, data):
    buf = io.BytesIO()
    schemaless_writer(buf, registered.parsed, data.draw(values(registered.parsed)))
    body = bytearray(buf.getvalue())
    how = data.draw(st.sampled_from(["flip", "truncate", "garbage"]))
    if how == "flip" and body:
        at = data.draw(st.integers(0, len(body) - 1))
        body[at] = data.draw(st.integers(0, 255))
    elif how == "truncate":
        body = body[: data.draw(st.integers(0, len(body)))]
    else:
        body = bytearray(data.draw(st.binary(max_size=64)))
    decoder = compile_decoder(registered.parsed)
    ours, theirs = generated_outcome(decoder, bytes(body)), fastavro_outcome(registered.parsed, bytes(body))
    # Stricter than fastavro: it reads a varint of any length or width (a long has 64 bits), and a negative
    # union or enum index as an index from the end of the branches or symbols.
    if ours == ("error", True):
        return
    if ours[0] == "ok":
        # repr, not ==: a flipped bit can make a double NaN, which equals nothing (and repr tells -0.0 from 0.0)
        assert repr(ours) == repr(theirs)
    else:
        assert theirs == ("error",)


@given(LONGS)
def test_read_long_reads_zigzag_varints_of_every_width(n):
    buf = io.BytesIO()
    schemaless_writer(buf, {"type": "long"}, n)
    assert read_long(buf.getvalue(), 0) == (n, len(buf.getvalue()))


def test_a_varint_over_ten_bytes_is_refused():
    with pytest.raises(ValueError, match="varint"):
        read_long(b"\xff" * 11 + b"\x01", 0)


def test_a_schema_with_a_type_it_does_not_know_falls_back_to_fastavro():
    for other in ({"type": "map", "values": "long"}, "float", {"type": "fixed", "name": "F", "size": 4},
                  ["string", "long"]):
        assert compile_decoder({"type": "record", "name": "R", "fields": [{"name": "f", "type": other}]}) is None


def test_an_enum_index_outside_the_symbols_is_refused_and_a_boolean_reads_as_fastavro_reads_it():
    schema = {"type": "record", "name": "R", "fields": [
        {"name": "b", "type": "boolean"}, {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["x", "y"]}}]}
    decoder = compile_decoder(schema)
    assert decoder(b"\x00\x02", 0) == ({"b": False, "e": "y"}, 2)
    assert decoder(b"\x07\x00", 0) == ({"b": True, "e": "x"}, 2)  # fastavro: any byte but 0 is true
    for index in (b"\x04", b"\x01"):  # 2 (past the end) and -1 (fastavro: the last symbol)
        with pytest.raises(ValueError, match="enum index"):
            decoder(b"\x01" + index, 0)


def test_the_codec_reports_a_defective_body_with_its_code():
    codec = AvroCodec()
    good = codec.encode("agent.messages", {
        "event_id": "e", "command_id": "c", "message_id": "m", "tenant_id": "acme", "from_agent": "a", "to_agent": "b",
        "message_type": "command", "priority": "low", "content": "hi", "payload_json": None,
        "conversation_id": None, "constitutional_hash": "h", "issued_at": 1, "delivered_at": 2})
    for bad, says in ((good[:-1], "truncated"), (good + b"\x00", "trailing bytes"),
                      (good[:5] + b"\x02\xff" + good[7:], "utf-8"), (good[:5] + b"\x03" + good[6:], "length -2")):
        with pytest.raises(CodecError) as caught:
            codec.decode(bad)
        assert caught.value.code == "avro_decode_error" and says in str(caught.value), str(caught.value)
