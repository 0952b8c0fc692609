"""Avro binary decoders generated per schema: straight-line Python, one function per record schema.

Why not fastavro's reader alone: every projection, the gate and a rebuild decode each record they read, and
a rebuild is bound by that per-record work (fastavro's ``schemaless_reader`` was 31% of a rebuild's samples
under py-spy). A decoder that knows its schema reads each field where it lies, with no file object and the
one-byte length of short strings on a fast path: ``python bench/decode_bench.py`` compares the two.

Scope: the types our schemas use (record, string, bytes, int, long, double, boolean, null, enum, arrays and
two-branch unions with null). ``compile_decoder`` returns None for a schema with anything else, and the codec
then uses fastavro. Anything malformed (truncated body, negative length, invalid UTF-8, a union branch that does
not exist, a varint over 10 bytes or 64 bits) raises ``ValueError``, never returns a wrong record; a unit test holds the
output to fastavro's, for valid and corrupted bodies alike. Two differences, on purpose: fastavro reads a varint
of any length (and wraps one over 64 bits), these decoders refuse one over the 10 bytes or 64 bits of a long;
fastavro reads a negative union or enum index as counting from the end of the branches or symbols (-1: the
last), these decoders refuse it. Like fastavro, a boolean byte other than 0 reads as true.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

Decoder = Callable[[bytes, int], tuple[dict[str, Any], int]]

_DOUBLE = struct.Struct("<d").unpack_from


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint at ``pos``: (value, next position). The generated code inlines the one-byte case."""
    b = data[pos]
    n = b & 0x7F
    shift = 7
    pos += 1
    while b & 0x80:
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")
        b = data[pos]
        n |= (b & 0x7F) << shift
        shift += 7
        pos += 1
    if n >> 64:
        raise ValueError("varint holds more than 64 bits")
    return (n >> 1) ^ -(n & 1), pos


def _fail(message: str) -> None:
    raise ValueError(message)


class _Unsupported(Exception):
    pass


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def var(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _long(w: _Writer, indent: int, target: str) -> None:
    w.emit(indent, "b = data[pos]")
    w.emit(indent, "if b < 128:")
    w.emit(indent + 1, f"{target} = (b >> 1) ^ -(b & 1)")
    w.emit(indent + 1, "pos += 1")
    w.emit(indent, "else:")
    w.emit(indent + 1, f"{target}, pos = read_long(data, pos)")


def _value(w: _Writer, schema: Any, indent: int, target: str) -> None:
    """Emit code that reads one value of ``schema`` at ``pos`` into the local ``target``."""
    kind = schema["type"] if isinstance(schema, dict) else schema
    if isinstance(schema, list):
        _union(w, schema, indent, target)
    elif isinstance(kind, (dict, list)):
        _value(w, kind, indent, target)
    elif kind in ("string", "bytes"):
        n = w.var()
        _long(w, indent, n)
        w.emit(indent, f"end = pos + {n}")
        w.emit(indent, f"if {n} < 0 or end > size:")
        w.emit(indent + 1, f"fail('{kind} of length ' + str({n}) + ' does not fit the body')")
        w.emit(indent, f"{target} = data[pos:end]" + (".decode()" if kind == "string" else ""))
        w.emit(indent, "pos = end")
    elif kind in ("int", "long"):
        _long(w, indent, target)
    elif kind == "double":
        w.emit(indent, "if pos + 8 > size:")
        w.emit(indent + 1, "fail('double past the end of the body')")
        w.emit(indent, f"{target} = DOUBLE(data, pos)[0]")
        w.emit(indent, "pos += 8")
    elif kind == "boolean":
        w.emit(indent, f"{target} = data[pos] != 0")
        w.emit(indent, "pos += 1")
    elif kind == "null":
        w.emit(indent, f"{target} = None")
    elif kind == "enum":
        symbols = tuple(schema["symbols"])
        index = w.var()
        _long(w, indent, index)
        w.emit(indent, f"if not 0 <= {index} < {len(symbols)}:")
        w.emit(indent + 1, f"fail('enum index ' + str({index}) + ' does not exist')")
        w.emit(indent, f"{target} = {symbols!r}[{index}]")
    elif kind == "array":
        _array(w, schema["items"], indent, target)
    elif kind == "record":
        names = []
        for field in schema["fields"]:
            local = w.var()
            _value(w, field["type"], indent, local)
            names.append((field["name"], local))
        w.emit(indent, f"{target} = {{" + ", ".join(f"{name!r}: {local}" for name, local in names) + "}")
    else:
        raise _Unsupported(str(kind))


def _union(w: _Writer, branches: list, indent: int, target: str) -> None:
    if len(branches) != 2 or "null" not in branches:
        raise _Unsupported("union")
    branch = w.var()
    _long(w, indent, branch)
    null_index = branches.index("null")
    other = branches[1 - null_index]
    w.emit(indent, f"if {branch} == {null_index}:")
    w.emit(indent + 1, f"{target} = None")
    w.emit(indent, f"elif {branch} == {1 - null_index}:")
    _value(w, other, indent + 1, target)
    w.emit(indent, "else:")
    w.emit(indent + 1, f"fail('union branch ' + str({branch}) + ' does not exist')")


def _array(w: _Writer, items: Any, indent: int, target: str) -> None:
    count, item, block_bytes = w.var(), w.var(), w.var()
    w.emit(indent, f"{target} = []")
    w.emit(indent, "while True:")
    _long(w, indent + 1, count)
    w.emit(indent + 1, f"if {count} == 0:")
    w.emit(indent + 2, "break")
    w.emit(indent + 1, f"if {count} < 0:")  # a block with its size in bytes first
    w.emit(indent + 2, f"{count} = -{count}")
    _long(w, indent + 2, block_bytes)
    w.emit(indent + 1, f"for _ in range({count}):")
    _value(w, items, indent + 2, item)
    w.emit(indent + 2, f"{target}.append({item})")


def compile_decoder(schema: dict[str, Any]) -> Decoder | None:
    """A decoder for a parsed record schema (logical types stripped), or None if it uses other types.

    The decoder takes (body, start) and returns (record, end). Reading past the body raises IndexError or
    ValueError; the caller checks ``end`` against the length (trailing bytes).
    """
    w = _Writer()
    try:
        _value(w, schema, 1, "record")
    except _Unsupported:
        return None
    source = "def decode(data, pos):\n    size = len(data)\n" + "\n".join(w.lines) + "\n    return record, pos\n"
    scope: dict[str, Any] = {"read_long": read_long, "fail": _fail, "DOUBLE": _DOUBLE}
    exec(compile(source, f"<avro decoder {schema.get('name', '?')}>", "exec"), scope)  # noqa: S102 - our own schema text
    decoder = scope["decode"]
    decoder.source = source  # for debugging and the tests
    return decoder
