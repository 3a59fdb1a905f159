"""``/api/v1/openapi.json``: an OpenAPI 3.1 description of the whole JSON API (a test keeps it complete)."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from kb.api import bp

_ERROR = {"$ref": "#/components/responses/Error"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _param(name: str, where: str = "query", schema_type: str = "string", required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "schema": {"type": schema_type}}


_ASSET_ID = _param("asset_id", "path", "integer")
_NUMBER = _param("number", "path", "integer")
_ERRORS = {"400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR}

_MULTIPART_ASSET = {
    "type": "object",
    "required": ["file", "kind"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "title": {"type": "string", "description": "default: the file's name, without its extension"},
        "kind": {"type": "string", "enum": ["catalog", "presentation", "tender_template", "datasheet", "case_study"]},
        "description": {"type": "string"},
        "product": {"type": "string", "description": "a term of the product vocabulary (a new one joins an open list)"},
        "segments": {"type": "string", "description": "comma-separated: B2B, B2C, B2G"},
        "region": {"type": "string", "description": "a term of the region vocabulary (a new one joins an open list)"},
        "language": {"type": "string", "enum": ["ru", "en", "mixed"]},
        "owner": {"type": "string", "description": "user id or e-mail of a marketing user (default: you)"},
        "review_interval_days": {"type": "integer"},
        "tags": {"type": "string", "description": "comma-separated"},
        "audiences": {
            "type": "string",
            "description": "comma-separated audience ids (GET /api/v1/audiences), or the field repeated; none: "
            "everyone. Only the audiences' members, the owner and admins then see the asset",
        },
        "change_note": {"type": "string"},
        "status": {"type": "string", "enum": ["published", "draft"]},
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "kb API",
        "version": "1",
        "description": "Sales-enablement knowledge base: assets, versions, search. Errors: "
        '{"error": {"code": "...", "message": "...", "field": "..."}}.',
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}, {"session": []}],
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "personal API token (kb_...)"},
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "kb_session",
                "description": "writes need X-CSRFToken",
            },
        },
        "responses": {
            "Error": _json(
                {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "field": {"type": "string"},
                            },
                        }
                    },
                },
                "An error, with a message for people",
            )
        },
        "schemas": {
            "User": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "email": {"type": "string"},
                    "display_name": {"type": "string"},
                    "role": {"type": "string", "enum": ["sales", "marketing", "admin"]},
                    "preferred_language": {"type": ["string", "null"]},
                    "active": {"type": "boolean"},
                    "auth": {"type": "string", "enum": ["token", "session"]},
                },
            },
            "Version": {
                "type": "object",
                "properties": {
                    "number": {"type": "integer"},
                    "file_name": {"type": "string"},
                    "media_type": {"type": "string"},
                    "size": {"type": "integer"},
                    "sha256": {"type": "string"},
                    "page_count": {"type": ["integer", "null"]},
                    "change_note": {"type": "string"},
                    "published_at": {"type": "string", "format": "date-time"},
                    "extraction_status": {"type": "string", "enum": ["pending", "done", "empty", "failed"]},
                    "extraction_error": {"type": ["string", "null"]},
                    "download_url": {"type": "string"},
                },
            },
            "Asset": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "title": {"type": "string"},
                    "kind": {"type": "string"},
                    "status": {"type": "string", "enum": ["draft", "published", "archived"]},
                    "archived_at": {"type": ["string", "null"], "format": "date-time"},
                    "replaced_by": {"type": ["integer", "null"], "description": "what replaces an archived asset"},
                    "current_version": {"type": ["integer", "null"]},
                    "segments": {"type": "array", "items": {"type": "string"}},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "audiences": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                        },
                        "description": "the audiences the asset is restricted to; empty: everyone",
                    },
                    "next_review_on": {"type": "string", "format": "date"},
                    "versions": {"type": "array", "items": _ref("Version")},
                },
            },
            "SearchResults": {
                "type": "object",
                "properties": {
                    "total": {"type": "integer"},
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "asset_id": {"type": "integer"},
                                "title": {"type": "string"},
                                "kind": {"type": "string"},
                                "version": {"type": "integer"},
                                "score": {"type": "number"},
                                "freshness": {"type": "string"},
                                "status": {"type": "string", "enum": ["published", "draft", "archived"]},
                                "missing": {"type": "array", "items": {"type": "string"}},
                                "hits": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {"page": {"type": "integer"}, "snippet": {"type": "string"}},
                                    },
                                },
                            },
                        },
                    },
                    "facets": {"type": "object"},
                    "suggestion": {"type": ["string", "null"]},
                },
            },
        },
    },
    "paths": {
        "/api/v1/me": {"get": {"summary": "The signed-in user", "responses": {"200": _json(_ref("User")), **_ERRORS}}},
        "/api/v1/openapi.json": {
            "get": {"summary": "This description", "responses": {"200": _json({"type": "object"})}}
        },
        "/api/v1/assets": {
            "get": {
                "summary": "Assets you may see, the latest change first (sort: updated, title, product, owner, "
                "review; -name reverses); each with its freshness (published ones) and open flags",
                "parameters": [
                    _param("kind"),
                    _param("status"),
                    _param("owner_id", schema_type="integer"),
                    _param("product"),
                    _param("freshness"),
                    _param("sort"),
                    _param("page", schema_type="integer"),
                    _param("per_page", schema_type="integer"),
                ],  # fmt: skip
                "responses": {"200": _json({"type": "object"}), **_ERRORS},
            },
            "post": {
                "summary": "Publish a new asset with its first version (marketing)",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _MULTIPART_ASSET}}},
                "responses": {"201": _json(_ref("Asset"), "Created"), "413": _ERROR, **_ERRORS},
            },
        },
        "/api/v1/assets/{asset_id}": {
            "get": {
                "summary": "One asset with its versions (sales asking for an archived one get 410 with "
                "archived_on and replaced_by)",
                "parameters": [_ASSET_ID],
                "responses": {"200": _json(_ref("Asset")), "410": _ERROR, **_ERRORS},
            },  # fmt: skip
            "patch": {
                "summary": "Edit metadata and/or status in one step (marketing); no new version. Archiving may name "
                'the published asset that replaces it: {"status": "archived", "replaced_by": 12}. '
                '{"audiences": [3, 5]} restricts the asset to those audiences; [] makes it everyone\'s again',
                "parameters": [_ASSET_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"200": _json(_ref("Asset")), "409": _ERROR, **_ERRORS},
            },
        },
        "/api/v1/assets/{asset_id}/versions": {
            "post": {
                "summary": "Publish a new version (marketing)",
                "parameters": [_ASSET_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file", "change_note"],
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "change_note": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {"201": _json(_ref("Version"), "Created"), "409": _ERROR, "413": _ERROR, **_ERRORS},
            }
        },
        "/api/v1/assets/{asset_id}/versions/{number}/download": {
            "get": {
                "summary": "The stored file, byte for byte, with its original name",
                "parameters": [_ASSET_ID, _NUMBER],
                "responses": {"200": {"description": "The file"}, **_ERRORS},
            }
        },
        "/api/v1/search": {
            "get": {
                "summary": "Search current versions page by page; results are assets with their best pages",
                "parameters": [
                    _param("q"),
                    _param("kind"),
                    _param("product"),
                    _param("segment"),
                    _param("region"),
                    _param("language"),
                    _param("freshness"),
                    _param("sort"),
                    _param("older"),
                    _param("page", schema_type="integer"),
                    _param("per_page", schema_type="integer"),
                    _param("exact"),
                ],  # fmt: skip
                "responses": {"200": _json(_ref("SearchResults")), **_ERRORS},
            },
            "post": {
                "summary": "The same search with its parameters in a JSON body: for long texts (up to 4,000 characters "
                "are read; longer ones are cut and `shortened` says so)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "q": {"type": "string"},
                                    "kind": {"type": "string"},
                                    "sort": {"type": "string"},
                                    "page": {"type": "integer"},
                                    "per_page": {"type": "integer"},
                                    "exact": {"type": "string", "enum": ["1"]},
                                },
                            }
                        }
                    },
                },
                "responses": {"200": _json(_ref("SearchResults")), **_ERRORS},
            },
        },
    },
}


_FLAG_ID = _param("flag_id", "path", "integer")
_CONFLICT = {"409": _ERROR}
_REASONS = ["prices_outdated", "specs_wrong", "legal_expired", "missing_info", "broken_file", "superseded", "other"]


def _body(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required or []}
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


_RATING = {
    "type": "object",
    "properties": {
        "asset_id": {"type": "integer"},
        "current_version": {
            "type": "object",
            "properties": {"average": {"type": ["number", "null"]}, "count": {"type": "integer"}},
        },
        "overall": {
            "type": "object",
            "properties": {"average": {"type": ["number", "null"]}, "count": {"type": "integer"}},
        },
        "mine": {"type": ["object", "null"]},
    },
}
_FLAG = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "asset_id": {"type": "integer"},
        "status": {"type": "string", "enum": ["open", "resolved", "dismissed"]},
        "reason": {"type": "string", "enum": _REASONS},
        "reasons": {"type": "array", "items": {"type": "string", "enum": _REASONS}},
        "comment": {"type": "string"},
        "page": {"type": ["integer", "null"]},
        "version": {"type": "integer"},
        "reports": {"type": "integer"},
        "close_note": {"type": "string"},
        "resolved_by_version": {"type": ["integer", "null"]},
        "joined": {"type": "boolean", "description": "POST only: true when added to your open flag"},
    },
}
_FOLLOW = {"type": "object", "properties": {"asset_id": {"type": "integer"}, "following": {"type": "boolean"}}}

SPEC["paths"].update(
    {
        "/api/v1/assets/{asset_id}/rating": {
            "put": {
                "summary": "Rate the current version (1 to 5 stars); one rating per person, changed by sending again",
                "parameters": [_ASSET_ID],
                "requestBody": _body(
                    {"stars": {"type": "integer", "minimum": 1, "maximum": 5}, "comment": {"type": "string"}}, ["stars"]
                ),
                "responses": {"200": _json(_RATING), **_ERRORS, **_CONFLICT},
            },
            "delete": {
                "summary": "Remove your rating",
                "parameters": [_ASSET_ID],
                "responses": {"200": _json(_RATING), **_ERRORS},
            },
        },
        "/api/v1/assets/{asset_id}/flags": {
            "post": {
                "summary": "Flag the asset as outdated (201), or add to your open flag on it (200)",
                "parameters": [_ASSET_ID],
                "requestBody": _body(
                    {
                        "reason": {"type": "string", "enum": _REASONS},
                        "comment": {"type": "string"},
                        "page": {"type": "integer", "minimum": 1},
                    },
                    ["reason"],
                ),
                "responses": {"200": _json(_FLAG), "201": _json(_FLAG, "Created"), **_ERRORS, **_CONFLICT},
            },
            "get": {
                "summary": "The asset's flags, open ones first",
                "parameters": [_ASSET_ID, _param("status")],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"open": {"type": "integer"}, "flags": {"type": "array", "items": _FLAG}},
                        }
                    ),
                    **_ERRORS,
                },
            },
        },
        "/api/v1/flags/{flag_id}/dismiss": {
            "post": {
                "summary": "Marketing: dismiss a flag with a note to its author",
                "parameters": [_FLAG_ID],
                "requestBody": _body({"note": {"type": "string"}}, ["note"]),
                "responses": {"200": _json(_FLAG), **_ERRORS, **_CONFLICT},
            }
        },
        "/api/v1/flags/{flag_id}/resolve": {
            "post": {
                "summary": "Marketing: resolve a flag without a new version",
                "parameters": [_FLAG_ID],
                "requestBody": _body({"note": {"type": "string"}}),
                "responses": {"200": _json(_FLAG), **_ERRORS, **_CONFLICT},
            }
        },
        "/api/v1/assets/{asset_id}/confirm": {
            "post": {
                "summary": "Marketing: confirm the asset as current; the review date moves forward",
                "parameters": [_ASSET_ID],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "asset_id": {"type": "integer"},
                                "next_review_on": {"type": "string", "format": "date"},
                            },
                        }
                    ),
                    **_ERRORS,
                    **_CONFLICT,
                },
            }
        },
        "/api/v1/assets/{asset_id}/follow": {
            "put": {
                "summary": "Follow the asset: hear of its new versions",
                "parameters": [_ASSET_ID],
                "responses": {"200": _json(_FOLLOW), **_ERRORS},
            },
            "delete": {
                "summary": "Stop following the asset",
                "parameters": [_ASSET_ID],
                "responses": {"200": _json(_FOLLOW), **_ERRORS},
            },
        },
        "/api/v1/notifications": {
            "get": {
                "summary": "Your notifications, newest first, with read state",
                "parameters": [_param("page", schema_type="integer"), _param("per_page", schema_type="integer")],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "unread": {"type": "integer"},
                                "items": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    ),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/notifications/read": {
            "post": {
                "summary": "Mark notifications read: the given ids, or all",
                "requestBody": _body({"ids": {"type": "array", "items": {"type": "integer"}}}),
                "responses": {
                    "200": _json({"type": "object", "properties": {"marked_read": {"type": "integer"}}}),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/freshness/queue": {
            "get": {
                "summary": "Marketing: the freshness queue, most harmful first, with scores and reasons",
                "parameters": [_param("owner"), _param("kind"), _param("product"), _param("reason")],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "total": {"type": "integer"},
                                "owners": {"type": "array"},
                                "items": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "asset": {"type": "object"},
                                            "score": {"type": "number"},
                                            "reasons": {"type": "array"},
                                        },
                                    },
                                },
                            },
                        }
                    ),
                    **_ERRORS,
                },
            }
        },
    }
)


_AUDIT_FILTERS = [
    _param("person"),
    _param("action"),
    _param("since"),
    _param("until"),
    _param("asset", schema_type="integer"),
    _param("ip"),
]
SPEC["paths"]["/api/v1/audit"] = {
    "get": {
        "summary": "Admins: the audit log, newest first. Filters: `person` (e-mail contains), `action`, `since` and "
        "`until` (YYYY-MM-DD, days in KB_TIMEZONE, both included), `asset` (id), `ip` (an address, or a network's "
        "start ending in a dot); `limit` (50, at most 500) events older than the event `before`",
        "parameters": [
            *_AUDIT_FILTERS,
            _param("limit", schema_type="integer"),
            _param("before", schema_type="integer"),
        ],
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "properties": {
                        "total": {"type": "integer", "description": "matching events, counted up to 10,000"},
                        "total_is_capped": {"type": "boolean"},
                        "events": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "integer"},
                                    "occurred_at": {"type": "string", "format": "date-time"},
                                    "action": {"type": "string"},
                                    "actor": {"type": "object"},
                                    "channel": {"type": "string", "enum": ["web", "api", "cli", "system"]},
                                    "subject": {"type": "string"},
                                    "asset_id": {"type": ["integer", "null"]},
                                    "version_id": {"type": ["integer", "null"]},
                                    "user_id": {"type": ["integer", "null"]},
                                    "token_id": {"type": ["integer", "null"]},
                                    "ip_address": {"type": ["string", "null"]},
                                    "user_agent": {"type": ["string", "null"]},
                                    "details": {"type": "object"},
                                },
                            },
                        },
                        "next_before": {"type": ["integer", "null"]},
                        "next": {"type": ["string", "null"], "description": "the next (older) page's URL"},
                    },
                }
            ),
            **_ERRORS,
        },
    }
}

_REPORT_FILTERS = [_param("owner"), _param("kind"), _param("product"), _param("segment"), _param("freshness")]
SPEC["paths"].update(
    {
        "/api/v1/reports/staleness": {
            "get": {
                "summary": "The staleness report: tiles, fresh share, breakdowns worst first, and the assets",
                "parameters": _REPORT_FILTERS,
                "responses": {"200": _json({"type": "object"}), **_ERRORS},
            }
        },
        "/api/v1/reports/staleness.csv": {
            "get": {
                "summary": "The staleness report's asset list as CSV (UTF-8 with a byte-order mark), in codes; "
                "`delimiter` is `,` (the default) or `;`",
                "parameters": [*_REPORT_FILTERS, _param("delimiter")],
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, **_ERRORS},
            }
        },
    }
)


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI description of this API."""
    return jsonify(SPEC)


_GROUP = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "terms": {"type": "array", "items": {"type": "string"}},
        "note": {"type": "string"},
    },
}
_GROUP_BODY = _body({"terms": {"type": "array", "items": {"type": "string"}}, "note": {"type": "string"}}, ["terms"])
_GROUP_ID = _param("group_id", "path", "integer")
_GROUPS = {"type": "object", "properties": {"groups": {"type": "array", "items": _GROUP}}}

SPEC["paths"].update(
    {
        "/api/v1/synonyms": {
            "get": {
                "summary": "Every synonym group search applies",
                "responses": {"200": _json(_GROUPS), **_ERRORS},
            },
            "post": {
                "summary": "Add a group of equivalent words or phrases (marketing); search uses it at once",
                "requestBody": _GROUP_BODY,
                "responses": {"201": _json(_GROUP), **_ERRORS},
            },
        },
        "/api/v1/synonyms/{group_id}": {
            "put": {
                "summary": "Change a group (marketing)",
                "parameters": [_GROUP_ID],
                "requestBody": _GROUP_BODY,
                "responses": {"200": _json(_GROUP), **_ERRORS},
            },
            "delete": {
                "summary": "Remove a group (marketing)",
                "parameters": [_GROUP_ID],
                "responses": {"200": _json({"type": "object"}), **_ERRORS},
            },
        },
        "/api/v1/synonyms.csv": {
            "get": {
                "summary": "Every group as CSV (UTF-8 with BOM): a row per group, an entry per column; "
                "`delimiter` is `,` (the default) or `;`",
                "parameters": [_param("delimiter")],
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, **_ERRORS},
            }
        },
        "/api/v1/synonyms/import": {
            "post": {
                "summary": "Add the groups of a CSV body (marketing; `replace=1` replaces them all); all rows or none",
                "parameters": [_param("replace")],
                "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}},
                "responses": {"200": _json({"type": "object"}), **_ERRORS},
            }
        },
    }
)

_VOCABULARIES = {
    "type": "object",
    "properties": {
        "vocabularies": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "enum": ["product", "region"]},
                    "closed": {"type": "boolean", "description": "only these terms are accepted when publishing"},
                    "terms": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}

SPEC["paths"]["/api/v1/vocabularies"] = {
    "get": {
        "summary": "The product and region lists: each one's terms (as assets spell them) and whether it is closed "
        "to new values",
        "responses": {"200": _json(_VOCABULARIES), **_ERRORS},
    }
}

_AUDIENCES = {
    "type": "object",
    "properties": {
        "audiences": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
        }
    },
}

SPEC["paths"]["/api/v1/audiences"] = {
    "get": {
        "summary": "Marketing: the audiences an asset may be restricted to (their ids go in an asset's audiences)",
        "responses": {"200": _json(_AUDIENCES), **_ERRORS},
    }
}
