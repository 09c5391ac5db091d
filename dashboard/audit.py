"""Writing the audit log (append-only)."""

from __future__ import annotations

import ipaddress
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import models
from django.http import HttpRequest

from dashboard.models import AuditEvent, Workspace


def _valid_ip(value: object) -> str | None:
    """The address in canonical form (a proxy's `:port` dropped), or None when it is not one."""
    text = str(value).strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]  # [2001:db8::1]:443
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]  # 203.0.113.9:443
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The caller's IP, trusting X-Forwarded-For only as far as configured proxies.

    Also axes' AXES_CLIENT_IP_CALLABLE. Always a valid address or None: a forged or
    garbled header falls back to REMOTE_ADDR and never reaches a GenericIPAddressField.
    """
    proxies = int(settings.TRUSTED_PROXY_COUNT or 0)
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if proxies and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if len(hops) >= proxies:
            address = _valid_ip(hops[-proxies])
            if address is not None:
                return address
    return _valid_ip(request.META.get("REMOTE_ADDR", ""))


def audit_record(
    *,
    action: str,
    workspace: Workspace | None,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    actor_label: str = "",
    target: models.Model | None = None,
    target_label: str = "",
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one entry. `actor_label` names actors without a login (a link owner, the system)."""
    if actor is None and request is not None:
        actor = request.user
    user = cast("User | None", actor if actor is not None and actor.is_authenticated else None)
    label = actor_label or (user.get_username() if user is not None else "system")
    return AuditEvent.objects.create(
        workspace=workspace,
        actor=user,
        actor_label=label[:150],
        action=action,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=(target_label or (str(target) if target is not None else ""))[:200],
        detail=detail or {},
        ip=client_ip(request) if request is not None else None,
    )
