"""The web layer: wires the database, languages, sign-in, access rules, error pages and blueprints into the app."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter


class IdConverter(IntegerConverter):
    def __init__(self, url_map: object, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)  # type: ignore[arg-type]


def init_app(app: Flask) -> None:
    from kb.api import bp as api_bp
    from kb.web import (
        access,
        admin,
        assets,
        audiences,
        audit,
        auth,
        context,
        errors,
        feedback,
        freshness,
        i18n,
        imports,
        main,
        notifications,
        previews,
        profile,
        reports,
        search,
        security,
        sso,
        synonyms,
        templating,
        vocabularies,
    )

    settings = app.config["KB_SETTINGS"]
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    # Ids in URLs are bounded to what the database can hold: a longer number is a 404, not an overflow.
    app.url_map.converters["int"] = IdConverter
    context.init_app(app)
    audit.init_app(app)  # before any hook that may sign someone in
    i18n.init_app(app)
    templating.init_app(app)
    auth.init_app(app)
    sso.init_app(app)
    access.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    blueprints = (
        main.bp,
        auth.bp,
        assets.bp,
        previews.bp,
        imports.bp,
        feedback.bp,
        freshness.bp,
        notifications.bp,
        search.bp,
        synonyms.bp,
        profile.bp,
        admin.bp,
        audit.bp,
        vocabularies.bp,
        audiences.bp,
        reports.bp,
    )
    for blueprint in (*blueprints, api_bp):
        app.register_blueprint(blueprint)
