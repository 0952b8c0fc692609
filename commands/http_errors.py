"""How write-side failures look over HTTP: one mapping shared by the FastAPI handlers and the hot route."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# pydantic error types → our machine-readable codes
VALIDATION_CODES = {"json_invalid": "malformed_json", "extra_forbidden": "unknown_field", "missing": "missing_field",
                    "enum": "invalid_enum", "literal_error": "invalid_enum", "string_too_long": "field_too_long",
                    "nul_character": "nul_character"}


def error_body(code: str, message: str, **details: object) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return body


def validation_failure(raw_errors: Iterable[Mapping[str, Any]]) -> tuple[int, dict[str, Any]]:
    """(status, body) for pydantic errors: 400 for JSON that does not parse, else 422 with the first error's code."""
    errors = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "message": e.get("msg")} for e in raw_errors]
    first = errors[0]["type"] if errors else "validation_error"
    code = VALIDATION_CODES.get(first, "validation_error")
    if code == "malformed_json":
        return 400, error_body(code, "request body is not valid JSON", errors=errors)
    message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['message']}" for e in errors)
    return 422, error_body(code, message, errors=errors)
