"""Drive the official `socialapi` SDK against a live sandbox; print what happened as JSON.

Runs *inside the SDK's own virtualenv* (`python -I sdk_probe.py < plan.json`): the SDK's
import name is `socialapi`, like our client package, so it never shares an interpreter
with the dashboard. No Django, no project imports: only the SDK, httpx and the stdlib.

Every call is bounded: the SDK never applies its constructor timeout, so a transport puts
one on every request; pages are followed at most `max_pages` times. Each call is reported
as {tenant, call, ok, value | error}; every HTTP exchange as {call, method, path, status,
body, request_id_header} so the test can validate the sandbox's answers too.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

import socialapi
import socialapi.webhooks
from socialapi import SocialAPI

PLAN: dict[str, Any] = json.load(sys.stdin)
TIMEOUT = float(PLAN["timeout"])
MAX_PAGES = int(PLAN["max_pages"])

exchanges: list[dict[str, Any]] = []
timeouts_sent: list[dict[str, Any]] = []
current_call = {"name": ""}


class BoundedTransport(httpx.HTTPTransport):
    """Record the timeout the SDK asked for, then apply ours (the SDK's is never set)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "probe_bounded" not in request.extensions:  # a retry re-sends the same request
            timeouts_sent.append(dict(request.extensions.get("timeout") or {}))
            request.extensions["probe_bounded"] = True
        request.extensions["timeout"] = httpx.Timeout(TIMEOUT).as_dict()
        return super().handle_request(request)


def record(response: httpx.Response) -> None:
    """Keep every answer the sandbox gave (the test validates them against the spec)."""
    response.read()
    exchanges.append(
        {
            "call": current_call["name"],
            "method": response.request.method,
            "path": urlsplit(str(response.request.url)).path,
            "status": response.status_code,
            "body": response.text,
            "request_id_header": response.headers.get("X-Request-ID"),
        }
    )


def client_for(api_key: str) -> SocialAPI:
    """The SDK as a customer would build it, on a bounded transport."""
    http = httpx.Client(transport=BoundedTransport(), event_hooks={"response": [record]})
    return SocialAPI(api_key=api_key, base_url=PLAN["base_url"], http_client=http)


def error_of(exc: BaseException) -> dict[str, Any]:
    """What the SDK raised, in plain data."""
    response = getattr(exc, "response", None)
    return {
        "type": type(exc).__name__,
        "mro": [cls.__name__ for cls in type(exc).__mro__],
        "status": getattr(exc, "status_code", None),
        "code": getattr(exc, "code", None),
        "request_id": getattr(exc, "request_id", None),
        "request_id_header": response.headers.get("X-Request-ID") if response else None,
        "message": str(exc)[:300],
    }


results: list[dict[str, Any]] = []


def run(tenant: str, name: str, call: Callable[[], Any]) -> None:
    """Run one SDK call; keep its value or the exception it raised (never crash)."""
    current_call["name"] = f"{tenant}:{name}"
    entry: dict[str, Any] = {"tenant": tenant, "call": name}
    try:
        entry["value"] = call()
        entry["ok"] = True
    except Exception as exc:
        entry["ok"] = False
        entry["error"] = error_of(exc)
    results.append(entry)


def pages(first: Any, follow: Callable[[Any], Any]) -> dict[str, Any]:
    """Follow a cursor page the way `for item in page` does, but at most MAX_PAGES."""
    page, count, ids = first, 1, [item.id for item in first.data]
    while page.has_next_page() and count < MAX_PAGES:
        page = follow(page)
        count += 1
        ids += [item.id for item in page.data]
    return {
        "pages": count,
        "ids": ids,
        "still_has_next": page.has_next_page(),
        "last_cursor": page.next_cursor,
    }


def probe_tenant(t: dict[str, Any]) -> None:
    """Every read the dashboard relies on, media deletes and connect start, for one tenant."""
    sdk = client_for(t["key"])
    label = t["label"]
    run(label, "users_me", lambda: sdk.users.get_me().model_dump(mode="json"))
    # Events first: the failing calls below add events of their own.
    run(
        label,
        "events_pages",
        lambda: pages(
            sdk.events.list(status="failed", limit=t["page_size"]),
            lambda page: sdk.events.list(
                status="failed", limit=t["page_size"], cursor=page.next_cursor
            ),
        ),
    )
    run(
        label,
        "accounts",
        lambda: [
            {"fields": sorted(type(a).model_fields), **a.model_dump(mode="json")}
            for a in sdk.accounts.list().data
        ],
    )
    run(label, "brands", lambda: [b.model_dump(mode="json") for b in sdk.brands.list()])
    run(label, "limits_ok", lambda: sdk.usage.get_account_limits(t["healthy_account"]).limits)
    run(label, "limits_broken", lambda: sdk.usage.get_account_limits(t["broken_account"]).limits)
    run(
        label,
        "media_pages",
        lambda: pages(sdk.media.list(limit=t["page_size"]), lambda page: page.next_page()),
    )
    run(label, "storage", lambda: sdk.media.get_storage_usage().model_dump(mode="json"))
    run(label, "usage", lambda: sdk.usage.get().model_dump(mode="json"))
    run(
        label,
        "posts_pages",
        lambda: pages(
            sdk.posts.list(status="scheduled", limit=t["page_size"]),
            lambda page: page.next_page(),
        ),
    )
    run(label, "webhooks", lambda: [w.model_dump(mode="json") for w in sdk.webhooks.list()])
    run(label, "media_delete_ok", lambda: sdk.media.delete(t["media_free"]))
    run(label, "media_delete_gone", lambda: sdk.media.delete(t["media_free"]))
    run(label, "media_delete_in_use", lambda: sdk.media.delete(t["media_in_use"]))
    connect: dict[str, Any] = {"platform": "instagram", "brand_id": t["brand_id"]}
    if t["dialect"] == "legacy":
        connect["metadata"] = {"redirect_uri": t["redirect_uri"]}
    else:
        connect.update(redirect_uri=t["redirect_uri"], state="dashboard-state-1")
    # The sandbox answers this tenant's first connect with a 500 (a fault switch).
    run(label, "connect_after_a_500", lambda: sdk.accounts.connect(**connect).model_dump())
    run(label, "connect_start", lambda: sdk.accounts.connect(**connect).model_dump())
    run(
        label,
        "connect_direct",
        lambda: sdk.accounts.connect(
            platform="telegram", brand_id=t["brand_id"], metadata={"bot_token": "1:ok"}
        ).model_dump(),
    )


def main() -> None:
    """Probe every tenant, then the calls that have no tenant, then the SDK itself."""
    for tenant in PLAN["tenants"]:
        probe_tenant(tenant)
    stranger = client_for(PLAN["unknown_key"])
    run("none", "unknown_key", lambda: stranger.users.get_me().model_dump(mode="json"))
    sdk = client_for("sapi_key_unused")
    surface = {
        "version": socialapi.__version__,
        "location": socialapi.__file__,
        "prefix": sys.prefix,
        "pending_methods": [m for m in dir(sdk.accounts) if "pending" in m or "select" in m],
        "webhook_verifiers": {
            name: list(inspect.signature(fn).parameters)
            for name, fn in vars(socialapi.webhooks).items()
            if callable(fn) and not name.startswith("_") and inspect.isfunction(fn)
        },
    }
    json.dump(
        {
            "results": results,
            "exchanges": exchanges,
            "timeouts_sent": timeouts_sent,
            "surface": surface,
        },
        sys.stdout,
        default=str,
    )


if __name__ == "__main__":
    main()
