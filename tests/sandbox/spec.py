"""Checking a sandbox answer against SocialAPI's own OpenAPI file.

`socialapi-openapi-subset.json` holds the paths the sandbox implements and the schemas
they use, copied verbatim from upstream's openapi.json (MIT). Success bodies are checked
strictly (no field the spec does not list) except where upstream's real answers go beyond
its own file and the sandbox follows upstream on purpose (`EXTRA_FIELDS`, `WIDER_ENUMS`);
current-dialect errors against `api_endpoints.ErrorResponse`; legacy errors (older than
the file) against the seed page's flat shape.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator

from socialapi.platforms import PLATFORMS

SUBSET = Path(__file__).with_name("socialapi-openapi-subset.json")
SPEC = json.loads(SUBSET.read_text())
SCHEMAS = SPEC["components"]["schemas"]

# Fields upstream sends that its OpenAPI file does not list (yet): a client must ignore
# them, so the sandbox sends them too. Anything else unlisted is still an invented field.
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "social-api_ai_core_api_connectors_base.Account": ("created_at", "platform_account_id"),
    "api_endpoints.MediaItemResponse": ("updated_at", "thumbnail_url"),
    "api_endpoints.EventResponse": ("request_id", "source"),
}
# Enums of the file that lag behind what upstream sends: PostTargetResponse.platform lists
# 7 platforms, but posts go to all 12 (and the official SDK requires the field).
WIDER_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("api_endpoints.PostTargetResponse", "platform"): tuple(PLATFORMS),
}


def schema_named(name: str, *, strict: bool) -> dict[str, Any]:
    """A component schema with its `$ref`s inlined and upstream's known extras allowed."""
    schema: dict[str, Any] = resolve(SCHEMAS[name], strict=strict)
    properties = schema.get("properties")
    if properties is not None:
        for extra in EXTRA_FIELDS.get(name, ()):
            properties[extra] = {}
        for (owner, field), values in WIDER_ENUMS.items():
            if owner == name:
                properties[field] = {"type": "string", "enum": list(values)}
    return schema


def resolve(node: Any, *, strict: bool) -> Any:
    """Inline `$ref`s; in strict mode objects allow no properties beyond the listed ones."""
    if isinstance(node, list):
        return [resolve(item, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return schema_named(node["$ref"].split("/")[-1], strict=strict)
    out = {key: resolve(value, strict=strict) for key, value in node.items()}
    if strict and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def template_for(path: str) -> str:
    """The spec's path template a concrete `/v1/...` (or `/...`) path belongs to."""
    path = path.removeprefix("/v1")
    templates: list[str] = sorted(SPEC["paths"], key=lambda t: (t.count("{"), t))
    for template in templates:
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"{path} is not a path of the OpenAPI file")


def check_answer(status: int, body: bytes, method: str, template: str, *, dialect: str) -> None:
    """Assert an answer is one the spec (or, for legacy errors, the seed page) allows."""
    operation = SPEC["paths"][template][method.lower()]
    if 200 <= status < 300:
        declared = operation["responses"].get(str(status))
        assert declared, (
            f"{method} {template} answered {status}; spec: {list(operation['responses'])}"
        )
        content = declared.get("content")
        if content is None:
            assert body == b"", f"{method} {template} {status} should have no body"
            return
        schema = resolve(content["application/json"]["schema"], strict=True)
        OAS30Validator(schema).validate(json.loads(body))
        return
    data = json.loads(body)
    if dialect == "legacy":
        assert isinstance(data.get("error"), str) and data["error"], data
        assert set(data) <= {"error", "code"}, data
        return
    schema = resolve({"$ref": "#/components/schemas/api_endpoints.ErrorResponse"}, strict=False)
    assert isinstance(data["error"]["code"], str) and data["error"]["message"], data
    OAS30Validator(schema).validate(data)


def check(response: Any, method: str, template: str, *, dialect: str = "current") -> None:
    """`check_answer` for a Django test client response."""
    check_answer(response.status_code, response.content, method, template, dialect=dialect)
