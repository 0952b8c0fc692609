"""The schema registry: ``schemas/avro/*.avsc`` files with ids fixed by ``schemas/avro/subjects.json``.

The gateway serves this registry read-only in the Confluent Schema Registry REST shape, so any Kafka client
with a Confluent Avro deserializer can decode every topic.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastavro

AVRO_DIR = Path(__file__).resolve().parent / "avro"


@dataclass(frozen=True)
class RegisteredSchema:
    subject: str
    version: int
    schema_id: int
    schema_text: str  # canonical JSON text served to clients
    full_name: str
    parsed: Any  # fastavro schema for our own codec (logical types stripped: millis stay ints)


@dataclass(frozen=True)
class SchemaRegistry:
    by_id: dict[int, RegisteredSchema]
    by_subject: dict[str, tuple[RegisteredSchema, ...]]

    def latest(self, subject: str) -> RegisteredSchema:
        return self.by_subject[subject][-1]

    def version(self, subject: str, version: int) -> RegisteredSchema | None:
        for schema in self.by_subject.get(subject, ()):
            if schema.version == version:
                return schema
        return None

    def for_topic(self, topic: str, record_name: str | None = None) -> RegisteredSchema:
        """The latest schema of the topic's ``-value`` subject, or of its ``<topic>-<record_name>`` subject
        (TopicRecordNameStrategy: a further record type on the same topic)."""
        return self.latest(f"{topic}-{record_name or 'value'}")

    def topic_subjects(self, topic: str) -> frozenset[str]:
        """Every subject whose records belong on ``topic``."""
        return frozenset(subject for subject, schemas in self.by_subject.items()
                         if subject == f"{topic}-value" or subject == f"{topic}-{schemas[-1].full_name}")


def _strip_logical_types(node: Any) -> Any:
    """Drop ``logicalType`` so timestamps decode as int millis: same bytes, no datetime churn."""
    if isinstance(node, dict):
        return {k: _strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical_types(v) for v in node]
    return node


def load_registry(avro_dir: Path = AVRO_DIR) -> SchemaRegistry:
    manifest = json.loads((avro_dir / "subjects.json").read_text())
    by_id: dict[int, RegisteredSchema] = {}
    by_subject: dict[str, tuple[RegisteredSchema, ...]] = {}
    for subject, versions in manifest["subjects"].items():
        entries = []
        for entry in versions:
            raw = json.loads((avro_dir / entry["file"]).read_text())
            schema_id = int(entry["id"])
            if schema_id in by_id:
                raise ValueError(f"schema id {schema_id} assigned twice in subjects.json")
            registered = RegisteredSchema(
                subject=subject, version=int(entry["version"]), schema_id=schema_id,
                schema_text=json.dumps(raw, separators=(",", ":")),
                full_name=f"{raw['namespace']}.{raw['name']}",
                parsed=fastavro.parse_schema(_strip_logical_types(copy.deepcopy(raw))),
            )
            by_id[schema_id] = registered
            entries.append(registered)
        by_subject[subject] = tuple(entries)
    return SchemaRegistry(by_id=by_id, by_subject=by_subject)


@lru_cache(maxsize=1)
def default_registry() -> SchemaRegistry:
    return load_registry()
