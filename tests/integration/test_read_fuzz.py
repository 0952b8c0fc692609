"""Garbage in every path and query parameter of every GET route, and garbage bodies to every POST route that
takes one: a 4xx with a code, or a 2xx, never a 5xx.

The routes come from the gateway's own OpenAPI description, so a route added later is fuzzed without being
listed here. Values are arbitrary text (control characters, U+0000, non-ASCII, very long), percent-encoded
as a client would send them, plus raw bytes that are not UTF-8 at all.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Never-ending or waiting routes (the SSE stream, long-polls' wait) are fuzzed with the wait left at 0.
SKIPPED = {"/api/v1/dashboard/stream", "/dashboard", "/metrics"}
WAITS = {"wait_ms"}

TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=8),  # control characters, NUL among them
    st.sampled_from(["", "-1", "0", "2147483648", "9" * 400, "latest", "../..", "%", "%zz", "a" * 3000]),
)


def _get_routes(api: httpx.Client) -> list[tuple[str, list[str], list[str]]]:
    """(path template, path parameters, query parameters) of every GET route in the OpenAPI description."""
    spec = api.get("/openapi.json").json()
    routes = []
    for path, operations in spec["paths"].items():
        if "get" not in operations or path in SKIPPED:
            continue
        params = operations["get"].get("parameters", [])
        routes.append((path, [p["name"] for p in params if p["in"] == "path"],
                       [p["name"] for p in params if p["in"] == "query"]))
    return routes


@pytest.fixture(scope="module")
def routes(api):  # noqa: ANN001
    found = _get_routes(api)
    assert len(found) >= 15  # the read side, the audit API, the schema registry, approvals...
    return found


def _check(answer: httpx.Response, url: str) -> None:
    assert answer.status_code < 500, f"{url} → {answer.status_code} {answer.text[:300]}"
    if answer.status_code >= 400:
        body = answer.json()
        assert body.get("code") and body.get("message") is not None, f"{url} → {answer.text[:300]}"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_garbage_parameters_never_get_a_server_error(api, routes, data):  # noqa: ANN001
    path, path_params, query_params = data.draw(st.sampled_from(routes))
    url = path
    for name in path_params:
        url = url.replace("{" + name + "}", quote(data.draw(TEXT, label=name), safe="") or "x")
    chosen = data.draw(st.lists(st.sampled_from(query_params), unique=True) if query_params else st.just([]))
    query = "&".join(f"{quote(name)}={'0' if name in WAITS else quote(data.draw(TEXT, label=name), safe='')}"
                     for name in chosen)
    full = f"{url}?{query}" if query else url
    _check(api.get(full), full)


@pytest.mark.parametrize("raw", [b"%ff%fe", b"%c3%28", b"%ed%a0%80", b"%80"])
def test_percent_encoded_bytes_that_are_not_utf8_never_get_a_server_error(api, routes, raw):  # noqa: ANN001
    value = raw.decode()
    for path, path_params, query_params in routes:
        url = path
        for name in path_params:
            url = url.replace("{" + name + "}", value)
        query = "&".join(f"{name}={'0' if name in WAITS else value}" for name in query_params)
        full = f"{url}?{query}" if query else url
        _check(api.get(full), full)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)


@pytest.fixture(scope="module")
def post_routes(api):  # noqa: ANN001
    spec = api.get("/openapi.json").json()
    # Routes that take no body (sealing a checkpoint) are left out: a body changes nothing there, the calls would.
    found = [path for path, operations in spec["paths"].items()
             if "post" in operations and ("requestBody" in operations["post"] or path.startswith("/api/v1/webhooks"))]
    assert "/api/v1/messages/send" in found and len(found) >= 5
    return found


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_garbage_bodies_to_every_write_route_never_get_a_server_error(api, post_routes, data):  # noqa: ANN001
    """Random JSON (of the route's object shape or not) and bytes that are not JSON, to every POST route."""
    path = data.draw(st.sampled_from(post_routes))
    for name in ("approval_id", "job_id", "tenant_id"):  # any path parameter gets a harmless value
        path = path.replace("{" + name + "}", "x")
    body = data.draw(st.one_of(JSON.map(lambda v: httpx.Request("POST", "/", json=v).content),
                               st.dictionaries(TEXT, JSON, max_size=6).map(
                                   lambda v: httpx.Request("POST", "/", json=v).content),
                               st.binary(max_size=64)))
    answer = api.post(path, content=body, headers={"content-type": "application/json"})
    _check(answer, path)
