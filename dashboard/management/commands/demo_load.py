"""`manage.py demo_load`: the demo workspaces, their people, and sandbox tenants behind them.

Idempotent: a second run keeps everything as it is. Only this command creates the demo
logins, and it refuses to run unless the sandbox is enabled (never in production).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.core.wsgi import get_wsgi_application
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from dashboard.models import Membership, Workspace
from dashboard.upstream import transport_override
from socialapi import wsgi_transport

DEMO_SLUG = "demo"
# slug, name, dialect, sandbox seed function, roles of the demo people (username → role)
DEMO_WORKSPACES = (
    (
        DEMO_SLUG,
        "Demo Co",
        "current",
        "sandbox.seed.sandbox_demo_seed",
        {"admin": Membership.Role.ADMIN, "member": Membership.Role.MEMBER},
    ),
    (
        "northwind",
        "Northwind Agency",
        "legacy",
        "sandbox.seed_agency.sandbox_agency_seed",
        {"admin": Membership.Role.ADMIN},
    ),
)
# Days of storage figures the demo starts with (the trend chart shows 30).
HISTORY_DAYS = 30
DEMO_PEOPLE = (("admin", False), ("member", False), ("support", True))  # password = username
# The first syncs, run in this process so the pages have data on the first visit.
FIRST_SYNCS = (
    "accounts.tasks.health_sync",
    "media.tasks.media_library_sync",
    "media.tasks.storage_snapshot_take",
    "dashboard.tasks.usage_sync",
    "events.tasks.events_sync",
)


class Command(BaseCommand):
    help = "Load the demo workspace (backed by the local sandbox) and the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError(
                "Demo data talks to the local sandbox: "
                "run with SANDBOX_ENABLED=true (make run does)."
            )
        if Workspace.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write("Demo data already loaded; keeping it.")
            return
        workspaces = self._create()
        self._first_syncs(workspaces)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))

    @transaction.atomic
    def _create(self) -> list[Workspace]:
        people = {}
        for username, staff in DEMO_PEOPLE:
            people[username] = User.objects.filter(username=username).first() or (
                User.objects.create_user(
                    username=username,
                    password=username,
                    email=f"{username}@demo.example",
                    is_staff=staff,
                )
            )
        workspaces = []
        for slug, name, dialect, seed_path, roles in DEMO_WORKSPACES:
            webhook_secret = secrets.token_hex(32)
            webhook_path = reverse("webhook_receive", kwargs={"workspace_slug": slug})
            seed = import_string(seed_path)
            tenant = seed(
                name=name,
                webhook_url=f"{settings.SITE_URL}{webhook_path}",
                webhook_secret=webhook_secret,
            )
            workspace = Workspace.objects.create(
                slug=slug,
                name=name,
                base_url=settings.SANDBOX_BASE_URL,
                dialect=dialect,
                api_key=tenant.api_key,
                api_key_hint=tenant.api_key[-4:],
                webhook_secret=webhook_secret,
                webhook_secret_saved_at=timezone.now(),
                is_demo=True,
            )
            for username, role in roles.items():
                Membership.objects.create(user=people[username], workspace=workspace, role=role)
            self._storage_history(workspace, tenant)
            workspaces.append(workspace)
        self._alert_channel(workspaces[0], people["admin"])
        return workspaces

    def _storage_history(self, workspace: Workspace, tenant: Any) -> None:
        """The storage figures of the last HISTORY_DAYS as the watch would have stored
        them (one a day, from when each sandbox file was uploaded): the trend chart draws
        a real line and the forecast has its history on the first visit."""
        from media.storage import storage_history_load
        from sandbox.models import SandboxMedia

        now = timezone.now()
        files = list(
            SandboxMedia.objects.filter(tenant=tenant, deleted_at__isnull=True).values_list(
                "created_at", "size_bytes"
            )
        )
        figures = []
        for days_ago in range(HISTORY_DAYS, 0, -1):
            moment = now - timedelta(days=days_ago)
            there = [size for created, size in files if created <= moment]
            figures.append(
                (
                    moment,
                    moment + timedelta(days=1, minutes=-1),  # confirmed until the next one
                    sum(there),
                    tenant.storage_limit_bytes,
                    len(there),
                )
            )
        storage_history_load(workspace=workspace, figures=figures)

    def _alert_channel(self, workspace: Workspace, admin: User) -> None:
        """Demo Co's alerts also go to the sandbox's alert inbox (shown on the Sandbox
        page), in Slack's format: alert channels work without the internet."""
        from alert_channels.forms import url_hint
        from alert_channels.models import AlertChannel
        from sandbox.inbox import sandbox_inbox_url

        url = sandbox_inbox_url()
        assert url is not None  # the sandbox is enabled (checked above)
        AlertChannel.objects.create(
            workspace=workspace,
            kind=AlertChannel.Kind.SLACK,
            label="Sandbox alert inbox",
            url=url,
            url_hint=url_hint(url),
            created_by=admin,
        )

    def _first_syncs(self, workspaces: list[Workspace]) -> None:
        """Run the periodic syncs once, in-process, through the real task code."""
        from dashboard.celery import app

        app.loader.import_default_modules()  # register every app's tasks
        # The server is not running yet: the sandbox answers through a WSGI transport.
        with transport_override(wsgi_transport(get_wsgi_application())):
            for workspace in workspaces:
                for name in FIRST_SYNCS:
                    result = app.tasks[name].apply(args=(workspace.pk,), throw=False)
                    if result.failed():
                        self.stderr.write(
                            f"{name} failed for {workspace.name}: {result.result!r} "
                            "(the worker will retry later)"
                        )
                self.stdout.write(f"First syncs done for {workspace.name}.")
