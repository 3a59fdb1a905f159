"""Access rules, checked by walking the whole URL map: nothing private answers anonymous users, nothing
marketing or admin answers a sales user, and every refusal is a clear 4xx."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter

from kb import create_app
from kb.models import Role
from kb.web.access import PUBLIC, access_of

SAFE = {"HEAD", "OPTIONS"}


def _routes(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        values = {}
        for arg in rule.arguments:
            converter = rule._converters[arg]  # noqa: SLF001 - the converter tells what a sample value looks like
            values[arg] = 1 if isinstance(converter, NumberConverter) else "x"
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        for method in sorted((rule.methods or set()) - SAFE):
            yield rule, method, url


def _all_routes() -> list[tuple[str, str, str, object]]:
    app = create_app({"KB_INSTANCE_DIR": tempfile.mkdtemp(prefix="kb-routes-"), "KB_SECRET_KEY": "r" * 40})
    routes = [
        (rule.endpoint, method, url, access_of(app.view_functions[rule.endpoint])) for rule, method, url in _routes(app)
    ]
    app.extensions["kb_db"].dispose()
    return routes


ROUTES = _all_routes()
PRIVATE = [r for r in ROUTES if r[3] != PUBLIC]
PRIVILEGED = [r for r in ROUTES if r[3] in (Role.MARKETING, Role.ADMIN)]


def test_the_walk_covers_the_app() -> None:
    endpoints = {endpoint for endpoint, *_ in ROUTES}
    assert {"main.home", "auth.login", "admin.users", "api.me", "profile.show"} <= endpoints
    assert len(PRIVILEGED) >= 5
    public = {endpoint for endpoint, _m, _u, access in ROUTES if access == PUBLIC}
    assert public == {
        "auth.login",
        "auth.forgot_password",
        "auth.reset_link_sent",
        "auth.reset_password",
        "main.health",
        "main.set_language",
    }


@pytest.mark.parametrize(("endpoint", "method", "url", "access"), PRIVATE, ids=[f"{r[1]} {r[0]}" for r in PRIVATE])
def test_private_routes_refuse_anonymous_users(client, endpoint: str, method: str, url: str, access: object) -> None:
    response = client.open(url, method=method)
    if url.startswith("/api/"):
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"
    else:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    ("endpoint", "method", "url", "access"), PRIVILEGED, ids=[f"{r[1]} {r[0]}" for r in PRIVILEGED]
)
def test_marketing_and_admin_routes_refuse_a_sales_user(
    signed_in, client, endpoint: str, method: str, url: str, access: object
) -> None:
    signed_in("sales")
    response = client.open(url, method=method)  # no CSRF token: the role check must come first anyway
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    if url.startswith("/api/"):
        assert response.json["error"]["code"] == "forbidden"
    else:
        assert "your account has the sales role" in body
        assert "<header" in body  # the error page is in the site layout


@pytest.mark.parametrize(
    ("endpoint", "method", "url", "access"),
    [r for r in PRIVILEGED if r[3] == Role.ADMIN],
    ids=[f"{r[1]} {r[0]}" for r in PRIVILEGED if r[3] == Role.ADMIN],
)
def test_admin_routes_refuse_a_marketing_user(signed_in, client, endpoint, method, url, access) -> None:
    signed_in("marketing")
    assert client.open(url, method=method).status_code == 403


@pytest.mark.parametrize(
    ("endpoint", "method", "url", "access"),
    [r for r in PRIVATE if r[1] != "GET"],
    ids=[f"{r[1]} {r[0]}" for r in PRIVATE if r[1] != "GET"],
)
def test_state_changing_routes_need_a_csrf_token(signed_in, client, endpoint, method, url, access) -> None:
    signed_in("admin")
    response = client.open(url, method=method, data={})
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert response.json["error"]["code"] == "csrf_failed"
    else:
        assert "security token" in response.get_data(as_text=True)


def test_no_route_changes_state_on_get() -> None:
    writers = {"auth.logout", "main.set_language"}
    for endpoint, method, _url, _access in ROUTES:
        if endpoint in writers or endpoint.split(".")[-1].startswith(
            ("create", "update", "revoke", "set_", "deactivate", "activate", "change")
        ):
            assert method != "GET", endpoint


def test_health_check_is_public(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_static_files_are_public(client) -> None:
    response = client.get("/static/kb.css")
    response.close()
    assert response.status_code == 200
