"""Writing the audit log (append-only)."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import models
from django.http import HttpRequest

from dashboard.models import AuditEvent, Workspace


def client_ip(request: HttpRequest) -> str | None:
    """The caller's IP, trusting X-Forwarded-For only as far as configured proxies."""
    proxies = int(settings.AXES_IPWARE_PROXY_COUNT or 0)
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if proxies and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    remote: str | None = request.META.get("REMOTE_ADDR")
    return remote or None


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
