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
    if subject not in registry.by_subject:
        raise _not_found(40401, f"Subject '{subject}' not found.")
    found = registry.latest(subject) if version in ("latest", "-1") else (
        registry.version(subject, int(version)) if version.isdigit() else None)
    if found is None:
        raise _not_found(40402, f"Version {version} not found.")
    return _answer(_version_body(found))


@router.get("/schemas/ids/{schema_id}")
async def schema_by_id(request: Request, schema_id: int) -> JSONResponse:
    found = request.app.state.registry.by_id.get(schema_id)
    if found is None:
        raise _not_found(40403, f"Schema {schema_id} not found")
    return _answer({"schema": found.schema_text, "schemaType": "AVRO"})


@router.get("/schemas/ids/{schema_id}/subjects")
async def subjects_of_schema(request: Request, schema_id: int) -> JSONResponse:
    found = request.app.state.registry.by_id.get(schema_id)
    if found is None:
        raise _not_found(40403, f"Schema {schema_id} not found")
    return _answer([found.subject])
