"""Baseline for the intake benchmark: a bare FastAPI endpoint that parses JSON and answers 202, nothing else."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/api/v1/messages/send")
async def send(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"status": "accepted", "from": body.get("from_agent")}, status_code=202)
