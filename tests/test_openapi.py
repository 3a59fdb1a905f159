"""The OpenAPI description covers every API route, and describes nothing that does not exist."""

from __future__ import annotations

import re

from kb.api.openapi import SPEC

PLACEHOLDER = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")


def _api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = PLACEHOLDER.sub(r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    return routes


def test_every_api_route_is_described(app) -> None:
    described = {(path, method) for path, item in SPEC["paths"].items() for method in item}
    routes = _api_routes(app)
    assert routes - described == set(), "add these routes to kb/api/openapi.py"
    assert described - routes == set(), "these described routes do not exist"


def test_the_description_is_served(signed_in, client) -> None:
    signed_in("sales")
    body = client.get("/api/v1/openapi.json").json
    assert body["openapi"].startswith("3.1") and "/api/v1/search" in body["paths"]
    for item in body["paths"].values():
        for operation in item.values():
            assert operation["summary"] and "responses" in operation
