"""Avro decoding: the generated decoders (schemas/decoders.py) next to fastavro's ``schemaless_reader``.

Run from the repository root::

    .venv/bin/python bench/decode_bench.py                 # 100,000 records per schema and decoder
    .venv/bin/python bench/decode_bench.py --records 500000

For the records the spine reads most (a command, a delivered message, a constitutional check) it prints µs
per record for each decoder, body only (after the 5-byte header), alternating the two in rounds so that the
machine's speed drifts into both alike.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastavro import schemaless_reader  # noqa: E402

from schemas.codec import AvroCodec  # noqa: E402
from schemas.decoders import compile_decoder  # noqa: E402


def samples() -> dict[str, dict]:
    ids = {k: str(uuid.uuid4()) for k in ("command_id", "message_id", "event_id", "correlation_id")}
    common = {"tenant_id": "bench", "from_agent": "bench-s1", "to_agent": "bench-r1", "constitutional_hash":
              "cdd01ef066bc6cf2"}
    message = {"message_type": "command", "priority": "normal", "content": "x" * 200, "payload_json": None,
               "conversation_id": None, "issued_at": 1_764_000_000_000}
    return {
        "acgs.commands": {**ids, **common, **message, "idempotency_key": None},
        "agent.messages": {**ids, **common, **message, "delivered_at": 1_764_000_000_001},
        "constitutional.events": {**ids, **common, "outcome": "accepted", "source": "stream"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="records per schema and decoder")
    args = parser.parse_args(argv)
    codec = AvroCodec()
    print("| topic (record) | fastavro µs | generated µs | ratio |\n|---|---|---|---|")
    for topic, record in samples().items():
        schema = codec.registry.for_topic(topic)
        fill = {"string": "x", "long": 1_764_000_000_000, "int": 1, "double": 0.5}
        data = codec.encode(topic, {f["name"]: record.get(f["name"], None if isinstance(f["type"], list)
                                                      else fill.get(f["type"] if isinstance(f["type"], str)
                                                                    else f["type"]["type"]))
                                    for f in schema.parsed["fields"]})
        decoder = compile_decoder(schema.parsed)

        def fastavro_read(data: bytes = data, parsed=schema.parsed) -> None:  # noqa: ANN001
            buf = io.BytesIO(data)
            buf.seek(5)
            schemaless_reader(buf, parsed, None)

        def generated_read(data: bytes = data) -> None:
            decoder(data, 5)

        spent = {"fastavro": 0.0, "generated": 0.0}
        rounds, per_round = 10, max(1, args.records // 10)
        for _ in range(rounds):
            for label, read in (("fastavro", fastavro_read), ("generated", generated_read)):
                started = time.perf_counter()
                for _ in range(per_round):
                    read()
                spent[label] += time.perf_counter() - started
        a, b = (spent[k] / (rounds * per_round) * 1e6 for k in ("fastavro", "generated"))
        print(f"| {topic} ({schema.full_name.rsplit('.', 1)[-1]}) | {a:.2f} | {b:.2f} | {a / b:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
