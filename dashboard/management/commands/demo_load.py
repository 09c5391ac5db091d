"""`manage.py demo_load`: the demo workspace, its people, and a sandbox tenant behind it.

Idempotent: a second run keeps everything as it is. Only this command creates the demo
logins, and it refuses to run unless the sandbox is enabled (never in production).
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.core.wsgi import get_wsgi_application
from django.db import transaction
from django.urls import reverse

from dashboard.models import Membership, Workspace
from dashboard.upstream import transport_override

DEMO_SLUG = "demo"
DEMO_PEOPLE = (
    # username, password, staff, role in the demo workspace
    ("admin", "admin", False, Membership.Role.ADMIN),
    ("member", "member", False, Membership.Role.MEMBER),
    ("support", "support", True, None),
)
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
        workspace = self._create()
        self._first_syncs(workspace)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))

    @transaction.atomic
    def _create(self) -> Workspace:
        from sandbox.seed import sandbox_demo_seed

        webhook_secret = secrets.token_hex(32)
        webhook_path = reverse("webhook_receive", kwargs={"workspace_slug": DEMO_SLUG})
        tenant = sandbox_demo_seed(
            name="Demo Co",
            webhook_url=f"{settings.SITE_URL}{webhook_path}",
            webhook_secret=webhook_secret,
        )
        workspace = Workspace.objects.create(
            slug=DEMO_SLUG,
            name="Demo Co",
            base_url=settings.SANDBOX_BASE_URL,
            api_key=tenant.api_key,
            api_key_hint=tenant.api_key[-4:],
            webhook_secret=webhook_secret,
            is_demo=True,
        )
        for username, password, staff, role in DEMO_PEOPLE:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(
                    username=username,
                    password=password,
                    email=f"{username}@demo.example",
                    is_staff=staff,
                )
            if role is not None:
                Membership.objects.get_or_create(
                    user=user, workspace=workspace, defaults={"role": role}
                )
        return workspace

    def _first_syncs(self, workspace: Workspace) -> None:
        """Run the periodic syncs once, in-process, through the real task code."""
        from dashboard.celery import app

        app.loader.import_default_modules()  # register every app's tasks
        # The server is not running yet: the sandbox answers through a WSGI transport.
        with transport_override(httpx.WSGITransport(app=get_wsgi_application())):
            for name in FIRST_SYNCS:
                result = app.tasks[name].apply(args=(workspace.pk,), throw=False)
                if result.failed():
                    self.stderr.write(
                        f"{name} failed: {result.result!r} (the worker will retry later)"
                    )
        self.stdout.write(f"First syncs done for {workspace.name}.")
