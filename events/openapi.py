"""The OpenAPI description of the ingest API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from events.ingest import MAX_BATCH, METHODS

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "ingest.batch_too_large"},
                "message": {"type": "string"},
                "meta": {"type": "object", "additionalProperties": True},
            },
        }
    },
}


def _error_response(description: str, example_code: str, example_message: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": {
                    "error": {"code": example_code, "message": example_message, "meta": {}}
                },
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.0 for `POST /api/v1/events`."""
    event = {
        "type": "object",
        "description": "One failed SocialAPI call, as your backend saw it. Unknown fields are "
        "ignored "
        "(and listed in the result's `ignored_fields`).",
        "required": ["status"],
        "properties": {
            "status": {
                "type": "integer",
                "minimum": 100,
                "maximum": 599,
                "description": "The HTTP status SocialAPI (or a proxy in front of it) answered.",
                "example": 429,
            },
            "body": {
                "description": "The raw error body exactly as received: a JSON object in either "
                "dialect "
                '(legacy `{"error": "…", "code": "…"}` or current `{"error": {"code", '
                '"message", "meta"}, '
                '"request_id"}`), or the text (HTML from a proxy, truncated JSON, empty). '
                "Stored up to 8 KB.",
                "oneOf": [{"type": "object", "additionalProperties": True}, {"type": "string"}],
                "nullable": True,
            },
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Response headers worth keeping: `X-Request-ID`, `Retry-After`.",
            },
            "request_id": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{1,64}$",
                "description": "The X-Request-ID of the failed call (taken from the body or "
                "headers when omitted).",
            },
            "method": {"type": "string", "enum": list(METHODS)},
            "endpoint": {
                "type": "string",
                "maxLength": 500,
                "description": 'The path called, e.g. "/v1/accounts/acc_123/limits" or "POST '
                '/v1/posts"; '
                "ids are folded so one failing call on many accounts is one group.",
            },
            "account_id": {
                "type": "string",
                "maxLength": 100,
                "description": "The SocialAPI account id (acc_…).",
            },
            "platform": {"type": "string", "maxLength": 40, "example": "instagram"},
            "occurred_at": {
                "type": "string",
                "format": "date-time",
                "description": "When the call failed (RFC 3339; default: when received). `time` "
                "is accepted too. "
                f"Not in the future, not older than {settings.ERROR_EVENT_RETENTION_DAYS} days.",
            },
            "client_id": {
                "type": "string",
                "pattern": "^[\\x21-\\x7e]{1,100}$",
                "description": "Your id for this event: sending it again is answered "
                "`duplicate` and stores nothing.",
            },
            "retry_after": {
                "type": "number",
                "minimum": 0,
                "maximum": 86400,
                "description": "Seconds, if known.",
            },
        },
    }
    result = {
        "type": "object",
        "required": ["index", "status"],
        "properties": {
            "index": {"type": "integer", "description": "Position of the item in the batch."},
            "status": {"type": "string", "enum": ["accepted", "duplicate", "rejected"]},
            "id": {"type": "string", "description": "The stored event (accepted)."},
            "group": {"type": "string", "description": "The error group it joined (accepted)."},
            "code": {
                "type": "string",
                "description": "Normalised code (accepted).",
                "example": "platform.rate_limit",
            },
            "family": {"type": "string", "example": "platform_throttle"},
            "client_id": {
                "type": "string",
                "description": "The client id already stored (duplicate).",
            },
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "What is wrong, per field (rejected).",
            },
            "ignored_fields": {"type": "array", "items": {"type": "string"}},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "SocialAPI Dashboard ingest API",
            "version": "1.0.0",
            "description": "Send the SocialAPI errors your own backend receives, so they are "
            "grouped, "
            "explained and counted next to the dashboard's own. Authenticate with the workspace's "
            "ingest token (Settings → Ingest token).",
        },
        "servers": [{"url": settings.SITE_URL}],
        "paths": {
            "/api/v1/events": {
                "post": {
                    "operationId": "ingestErrorEvents",
                    "summary": "Record failed SocialAPI calls",
                    "description": f'One event, `{{"events": [...]}}` or a JSON array of up to '
                    f"{MAX_BATCH} "
                    "events. Valid items are stored together; invalid ones are answered with "
                    "per-item "
                    "errors and stored nothing.",
                    "security": [{"ingestToken": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Event"},
                                        {
                                            "type": "object",
                                            "required": ["events"],
                                            "properties": {
                                                "events": {
                                                    "type": "array",
                                                    "minItems": 1,
                                                    "maxItems": MAX_BATCH,
                                                    "items": {"$ref": "#/components/schemas/Event"},
                                                }
                                            },
                                        },
                                        {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": MAX_BATCH,
                                            "items": {"$ref": "#/components/schemas/Event"},
                                        },
                                    ]
                                },
                                "example": {
                                    "events": [
                                        {
                                            "status": 429,
                                            "body": {
                                                "error": {
                                                    "code": "platform.instagram.rate_limit",
                                                    "message": "Instagram is rate limiting "
                                                    "requests.",
                                                },
                                                "request_id": "a1b2c3d4",
                                            },
                                            "endpoint": "POST /v1/posts",
                                            "account_id": "acc_01HZX",
                                            "occurred_at": "2026-05-30T14:03:00Z",
                                            "client_id": "job-8812-attempt-1",
                                        },
                                        {
                                            "status": 401,
                                            "body": {
                                                "error": "OAuth token expired",
                                                "code": "invalid_token",
                                            },
                                            "request_id": "e5f6a7b8",
                                            "endpoint": "/v1/accounts/acc_01HZY/limits",
                                            "account_id": "acc_01HZY",
                                        },
                                    ]
                                },
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "The batch was read; see each item's result.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": [
                                            "accepted",
                                            "duplicates",
                                            "rejected",
                                            "results",
                                        ],
                                        "properties": {
                                            "accepted": {"type": "integer"},
                                            "duplicates": {"type": "integer"},
                                            "rejected": {"type": "integer"},
                                            "results": {
                                                "type": "array",
                                                "items": {
                                                    "$ref": "#/components/schemas/ItemResult"
                                                },
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        "400": _error_response(
                            "Not JSON, or not an event / batch.",
                            "ingest.invalid_json",
                            "The request body is not valid UTF-8 JSON.",
                        ),
                        "401": _error_response(
                            "No ingest token, or not a valid one.",
                            "auth.invalid_token",
                            "This ingest token is not valid.",
                        ),
                        "405": _error_response(
                            "Only POST is allowed.", "resource.method_not_allowed", "Use POST."
                        ),
                        "413": _error_response(
                            f"More than {MAX_BATCH} events, or a body over 8 MB.",
                            "ingest.batch_too_large",
                            f"A batch holds at most {MAX_BATCH} events; split it.",
                        ),
                        "415": _error_response(
                            "The body is not JSON.",
                            "ingest.unsupported_media_type",
                            "Send Content-Type: application/json.",
                        ),
                        "503": _error_response(
                            "The database could not take the batch; nothing was stored. "
                            "Send it again after Retry-After seconds (client ids make that safe).",
                            "ingest.unavailable",
                            "Could not store the batch; send it again shortly.",
                        ),
                    },
                }
            }
        },
        "components": {
            "securitySchemes": {
                "ingestToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The workspace's ingest token (Settings → Ingest token).",
                }
            },
            "schemas": {"Event": event, "ItemResult": result, "Error": _ERROR},
        },
    }
