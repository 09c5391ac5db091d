"""Reads about connected accounts, always scoped to one workspace."""

from __future__ import annotations

from django.db.models import Count

from accounts.models import AccountStatus, SocialAccount
from dashboard.models import Workspace


def account_status_counts(*, workspace: Workspace) -> dict[str, int]:
    """Accounts per status (every status present, zero when none)."""
    counts = {status.value: 0 for status in AccountStatus}
    rows = SocialAccount.objects.filter(workspace=workspace).values("status").annotate(n=Count("id"))
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts
