"""The dashboard's door to SocialAPI: one configured client per workspace.

Every call made through `upstream(workspace)` records its failures as error events (the
one place that does so), pauses background work on API-key and billing failures, and
turns fresh `X-Storage-*` / `X-Posts-*` headers into figures.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboard.crypto import SecretDecryptionError
from dashboard.forms import base_url_normalise, base_url_operator_trusted, sandbox_base_url
from dashboard.models import Workspace
from socialapi import ClientConfig, FreshFigures, SocialAPI, SocialAPIError, Transport, UserMe

log = logging.getLogger(__name__)

PAUSING_FAMILIES = ("api_key", "billing")
_MAX_CLIENTS = 64
_lock = threading.Lock()
_clients: OrderedDict[tuple[object, ...], SocialAPI] = OrderedDict()
_transport: Transport | None = None


class WorkspaceNotConfigured(Exception):
    """The workspace has no API key yet."""


def key_fingerprint(api_key: str) -> str:
    """Tells keys apart without keeping them (cache keys, stale-client checks)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def blocks_private_networks(base_url: str) -> bool:
    """Every workspace client connects only to public addresses, except to base URLs the
    operator chose (`base_url_operator_trusted`, the rule the settings form follows too)
    and, where the sandbox is enabled (never in production), to the sandbox and other
    loopback URLs (a test server on its own port)."""
    url = base_url_normalise(base_url)
    if settings.SANDBOX_ENABLED and (url == sandbox_base_url() or _is_loopback(url)):
        return False
    return not base_url_operator_trusted(url)


def _is_loopback(url: str) -> bool:
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _on_error(workspace_id: int, key_fp: str, exc: SocialAPIError) -> None:
    from events.recording import error_event_record_from_exception

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    try:  # loads (and decrypts) the deferred key column alone
        current_fp = key_fingerprint(workspace.api_key) if workspace.api_key else ""
    except SecretDecryptionError:
        current_fp = key_fp  # cannot tell: treat it as the current key
    if current_fp != key_fp:
        # A client built before an admin saved another key: its failures (a 401 above
        # all) say nothing about the working key, so nothing is recorded or paused.
        log.info("ignored %s from a client with a replaced API key", exc.code)
        return
    # A savepoint: inside a caller's transaction the event commits or rolls back with
    # it; a failure while recording undoes only the recording.
    with transaction.atomic():
        error_event_record_from_exception(workspace=workspace, exc=exc)
        if str(exc.family) in PAUSING_FAMILIES:
            upstream_paused(workspace, family=str(exc.family))


def _on_figures(workspace_id: int, figures: FreshFigures) -> None:
    from dashboard.usage import usage_figures_apply
    from media.storage import storage_figures_apply

    storage_figures_apply(workspace_id=workspace_id, figures=figures)
    usage_figures_apply(workspace_id=workspace_id, figures=figures)


def _config(*, base_url: str, api_key: str, dialect: str, patient: bool = True) -> ClientConfig:
    """The client configuration from settings; `patient=False` when a person is waiting."""
    attempts, retry_seconds = settings.SOCIALAPI_MAX_ATTEMPTS, settings.SOCIALAPI_MAX_RETRY_SECONDS
    return ClientConfig(
        base_url=base_url,
        api_key=api_key,
        dialect="legacy" if dialect == "legacy" else "current",
        timeout=settings.SOCIALAPI_TIMEOUT,
        connect_timeout=settings.SOCIALAPI_CONNECT_TIMEOUT,
        max_attempts=attempts if patient else min(2, attempts),
        max_retry_seconds=retry_seconds if patient else min(5.0, retry_seconds),
        block_private_networks=blocks_private_networks(base_url),
    )


def upstream(workspace: Workspace) -> SocialAPI:
    """The SocialAPI client for this workspace's current configuration."""
    if not workspace.api_key:
        raise WorkspaceNotConfigured(f"workspace {workspace.slug} has no API key")
    key_fp = key_fingerprint(workspace.api_key)
    guard = blocks_private_networks(workspace.base_url)
    cache_key = (workspace.pk, workspace.base_url, workspace.dialect, key_fp, guard, id(_transport))
    with _lock:
        client = _clients.get(cache_key)
        if client is not None:
            _clients.move_to_end(cache_key)
            return client
        config = _config(
            base_url=workspace.base_url, api_key=workspace.api_key, dialect=workspace.dialect
        )
        ws_id = workspace.pk
        client = SocialAPI(
            config,
            transport=_transport,
            on_error=lambda exc: _on_error(ws_id, key_fp, exc),
            on_figures=lambda figures: _on_figures(ws_id, figures),
        )
        _clients[cache_key] = client
        while len(_clients) > _MAX_CLIENTS:
            # Not closed: another thread may be in the middle of a call with it. Its
            # connection pool is released when the last reference goes.
            _clients.popitem(last=False)
        return client


def upstream_probe(*, base_url: str, api_key: str, dialect: str) -> UserMe:
    """`GET /v1/users/me` with a candidate configuration, before anything is saved.

    A throwaway client without the workspace hooks: a rejected *candidate* key must not
    raise the workspace's "API key rejected" banner or pause its syncs. Few attempts,
    because a person is waiting for the answer.
    """
    config = _config(base_url=base_url, api_key=api_key, dialect=dialect, patient=False)
    with SocialAPI(config, transport=_transport) as client:
        # Reference: https://docs.social-api.ai/api-reference/users/me
        return client.users_me()


def upstream_paused(workspace: Workspace, *, family: str) -> None:
    """Upstream refuses the key or the bill: pause background work (keeps the first time)."""
    if workspace.paused_family != family:
        now = timezone.now()
        Workspace.objects.filter(pk=workspace.pk).update(paused_family=family, paused_at=now)
        workspace.paused_family, workspace.paused_at = family, now


def upstream_ok(workspace: Workspace) -> None:
    """A call with the current key succeeded: lift a pause on background work, and end a
    5xx outage that has gone quiet (events.recovery)."""
    from events.recovery import server_outage_end

    if workspace.paused_family:
        Workspace.objects.filter(pk=workspace.pk).update(paused_family="", paused_at=None)
        workspace.paused_family = ""
        workspace.paused_at = None
    server_outage_end(workspace_id=workspace.pk)


def clients_reset() -> None:
    """Close and forget every cached client (tests, transport changes): no call in flight."""
    with _lock:
        while _clients:
            _, client = _clients.popitem()
            client.close()


@contextlib.contextmanager
def transport_override(transport: Transport | None) -> Iterator[None]:
    """Send every upstream call through `transport` (tests, the demo loader)."""
    global _transport
    previous = _transport
    _transport = transport
    clients_reset()
    try:
        yield
    finally:
        _transport = previous
        clients_reset()
