"""Read side of the Confluent Schema Registry REST API, served from ``schemas/avro`` (ids never change)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from schemas.registry import RegisteredSchema

router = APIRouter(prefix="/schema-registry", tags=["schema-registry"])
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


def _answer(body: object) -> JSONResponse:
    return JSONResponse(body, media_type=CONTENT_TYPE)


def _not_found(code: int, message: str) -> HTTPException:
    # Confluent clients read error_code/message; our own code/message sit beside them.
    return HTTPException(404, detail={"code": "schema_not_found", "message": message, "error_code": code})


def _version_body(s: RegisteredSchema) -> dict:
    return {"subject": s.subject, "version": s.version, "id": s.schema_id, "schemaType": "AVRO",
            "schema": s.schema_text}


@router.get("/subjects")
async def subjects(request: Request) -> JSONResponse:
    return _answer(sorted(request.app.state.registry.by_subject))


@router.get("/subjects/{subject}/versions")
async def versions(request: Request, subject: str) -> JSONResponse:
    found = request.app.state.registry.by_subject.get(subject)
    if not found:
        raise _not_found(40401, f"Subject '{subject}' not found.")
    return _answer([s.version for s in found])


@router.get("/subjects/{subject}/versions/{version}")
async def version(request: Request, subject: str, version: str) -> JSONResponse:
    registry = request.app.state.registry
    number = _version_number(version)  # checked first, as Confluent does: 42202 whether or not the subject exists
    if subject not in registry.by_subject:
        raise _not_found(40401, f"Subject '{subject}' not found.")
    found = registry.latest(subject) if number is None else registry.version(subject, number)
    if found is None:
        raise _not_found(40402, f"Version {version} not found.")
    return _answer(_version_body(found))


MAX_VERSION = 2**31 - 1


def _is_number(text: str) -> bool:
    """Digits int() takes: ASCII only (str.isdigit() also holds for "²", which int() refuses), and short enough
    (int() refuses strings over 4,300 digits)."""
    return text.isascii() and text.isdigit() and len(text) <= 12


def _version_number(version: str) -> int | None:
    """None for the latest version; else the version number, which Confluent allows in 1 … 2^31-1."""
    if version in ("latest", "-1"):
        return None
    if _is_number(version) and 1 <= int(version) <= MAX_VERSION:
        return int(version)
    raise HTTPException(422, detail={
        "code": "invalid_version", "error_code": 42202,
        "message": f"The specified version '{version}' is not a valid version id. "
                   f"Allowed values are between [1, {MAX_VERSION}] and the string \"latest\""})


def _schema(request: Request, schema_id: str) -> RegisteredSchema:
    # A path segment that is no id names no schema (404 40403, not a validation error without error_code).
    found = request.app.state.registry.by_id.get(int(schema_id)) if _is_number(schema_id) else None
    if found is None:
        raise _not_found(40403, f"Schema {schema_id} not found")
    return found


@router.get("/schemas/ids/{schema_id}")
async def schema_by_id(request: Request, schema_id: str) -> JSONResponse:
    return _answer({"schema": _schema(request, schema_id).schema_text, "schemaType": "AVRO"})


@router.get("/schemas/ids/{schema_id}/subjects")
async def subjects_of_schema(request: Request, schema_id: str) -> JSONResponse:
    return _answer([_schema(request, schema_id).subject])
