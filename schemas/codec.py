"""Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the Avro binary body."""

from __future__ import annotations

import io
import struct
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from schemas.decoders import compile_decoder
from schemas.exceptions import CodecError, UnknownSchemaError
from schemas.registry import RegisteredSchema, SchemaRegistry, default_registry

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")


class AvroCodec:
    """Encodes records with a topic's latest schema; decodes any schema id the registry knows."""

    def __init__(self, registry: SchemaRegistry | None = None) -> None:
        self.registry = registry or default_registry()
        # Per schema id seen: the schema and its generated decoder (None: fastavro reads it), built on first use.
        self._readers: dict[int, tuple[RegisteredSchema, Any]] = {}
        self._topic_subjects: dict[str, frozenset[str]] = {}

    def encode(self, topic: str, record: dict[str, Any], record_name: str | None = None) -> bytes:
        """``record`` with the topic's latest schema; ``record_name`` picks a further record type's subject."""
        schema = self.registry.for_topic(topic, record_name)
        return encode_with(schema, record)

    def decode_from(self, topic: str, data: bytes | None) -> tuple[RegisteredSchema, dict[str, Any]]:
        """``decode``, and refuse a schema registered for another topic (``unexpected_schema``): such a
        record decodes, but lacks the fields its reader indexes."""
        schema, record = self.decode(data)
        subjects = self._topic_subjects.get(topic)
        if subjects is None:
            subjects = self._topic_subjects[topic] = self.registry.topic_subjects(topic)
        if schema.subject not in subjects:
            raise CodecError("unexpected_schema",
                             f"{schema.full_name} (schema id {schema.schema_id}) does not belong on {topic}")
        return schema, record

    def decode(self, data: bytes | None) -> tuple[RegisteredSchema, dict[str, Any]]:
        """Decode one record value; raise CodecError with a precise code on any defect."""
        if data is None or len(data) < _HEADER.size:
            raise CodecError("not_wire_format", "value is empty or shorter than the 5-byte Confluent header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC_BYTE:
            raise CodecError("not_wire_format", f"magic byte is {magic}, want {MAGIC_BYTE}")
        found = self._readers.get(schema_id)
        if found is None:
            found = self._reader(schema_id)
        schema, decoder = found
        if decoder is not None:
            try:
                record, end = decoder(data, _HEADER.size)
            except (IndexError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
                raise CodecError("avro_decode_error", f"body does not decode as {schema.full_name}: "
                                 f"{'truncated' if isinstance(exc, IndexError) else exc}") from None
            if end != len(data):
                raise CodecError("avro_decode_error", f"{len(data) - end} trailing bytes after the record")
            return schema, record
        buf = io.BytesIO(data)
        buf.seek(_HEADER.size)
        try:
            record = schemaless_reader(buf, schema.parsed, None)
        except Exception as exc:  # noqa: BLE001 - fastavro raises many types on corrupt input
            raise CodecError("avro_decode_error", f"body does not decode as {schema.full_name}: {exc}") from None
        if buf.tell() != len(data):
            raise CodecError("avro_decode_error", f"{len(data) - buf.tell()} trailing bytes after the record")
        return schema, record

    def _reader(self, schema_id: int) -> tuple[RegisteredSchema, Any]:
        schema = self.registry.by_id.get(schema_id)
        if schema is None:
            raise UnknownSchemaError(f"schema id {schema_id} is not in the registry")
        found = self._readers[schema_id] = (schema, compile_decoder(schema.parsed))
        return found


def encode_with(schema: RegisteredSchema, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    buf.write(_HEADER.pack(MAGIC_BYTE, schema.schema_id))
    try:
        schemaless_writer(buf, schema.parsed, record)
    except Exception as exc:  # noqa: BLE001 - fastavro raises ValueError/TypeError/KeyError
        raise CodecError("avro_encode_error", f"record does not fit {schema.full_name}: {exc}") from None
    return buf.getvalue()
