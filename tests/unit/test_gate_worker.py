"""``acgs worker gate`` runs the faust app on uvloop's event loop, set before faust or the app makes one."""

from __future__ import annotations

import asyncio
import sys
import types

import faust
import uvloop

from acgs import cli


def test_the_gate_worker_runs_faust_on_uvloop(monkeypatch):
    seen = {}

    class RecordingWorker:
        def __init__(self, app, **options) -> None:  # noqa: ANN001
            seen["app"], seen["policy"] = app, asyncio.get_event_loop_policy()

        def execute_from_commandline(self) -> None:
            seen["ran"] = True

    app = object()
    # The real streams.app builds the gate's producer on import; the command only needs its ``app``.
    monkeypatch.setitem(sys.modules, "streams.app", types.SimpleNamespace(app=app))
    monkeypatch.setattr(faust, "Worker", RecordingWorker)
    try:
        cli.worker_gate()
    finally:
        asyncio.set_event_loop_policy(None)  # the rest of the session keeps asyncio's default
    assert seen["app"] is app and seen["ran"]
    assert isinstance(seen["policy"], uvloop.EventLoopPolicy)
