"""Support staff: audited read-only views of any workspace."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dashboard.audit import audit_record
from dashboard.models import Workspace

if TYPE_CHECKING:
    from dashboard.access import WorkspaceRequest

# One audit entry per staff member, workspace and page within this window, so htmx
# polling does not flood the log while every distinct visit is still recorded. htmx
# requests count like any other: the HX-Request header is the client's to set.
SUPPORT_VIEW_WINDOW_SECONDS = 15 * 60


def support_view_record(request: WorkspaceRequest) -> None:
    """Audit a support staff page view, htmx or not (a header must not hide a visit)."""
    key = f"support_view:{request.workspace.pk}:{request.path}"
    last = request.session.get(key)
    now = time.time()
    if last is not None and now - float(last) < SUPPORT_VIEW_WINDOW_SECONDS:
        return
    request.session[key] = now
    entry = audit_record(
        action="support.view",
        workspace=request.workspace,
        request=request,
        target_label=request.path,
        detail={"path": request.path},
    )
    Workspace.objects.filter(pk=request.workspace.pk).update(
        support_viewed_at=entry.created_at, support_viewed_by=entry.actor_label
    )
