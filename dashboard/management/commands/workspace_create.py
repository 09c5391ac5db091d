"""`manage.py workspace_create "Acme" --admin-email alice@acme.com`: a new workspace and
an invitation for its first admin (printed, and emailed with --send-email).

The admin then signs in (or creates an account) through the link and pastes the API key
on the settings page, where it is tested before it is saved.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email, validate_slug
from django.db import transaction
from django.utils.text import slugify

from dashboard import services
from dashboard.audit import audit_record
from dashboard.models import Membership, Workspace

# Who the audit log names for what this command does (there is no signed-in person).
ACTOR = "manage.py"


class Command(BaseCommand):
    help = "Create a workspace and invite its first admin."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", help="the workspace's display name")
        parser.add_argument("--slug", help="URL name (default: from the name)")
        parser.add_argument("--admin-email", required=True, help="who becomes its first admin")
        parser.add_argument("--send-email", action="store_true", help="also email the invitation")

    def handle(
        self,
        *args: Any,
        name: str,
        slug: str | None,
        admin_email: str,
        send_email: bool,
        **options: Any,
    ) -> None:
        name = name.strip()
        slug = (slug or slugify(name))[:50]
        if not name or not slug:
            raise CommandError(
                "Give the workspace a name (and a slug of letters, digits and dashes)."
            )
        try:
            validate_slug(slug)
            validate_email(admin_email)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if Workspace.objects.filter(slug=slug).exists():
            raise CommandError(
                f"A workspace with the slug {slug!r} exists already; pass another --slug."
            )
        with transaction.atomic():
            workspace = Workspace.objects.create(name=name, slug=slug)
            audit_record(
                action="workspace.create",
                workspace=workspace,
                actor_label=ACTOR,
                target=workspace,
                detail={"base_url": workspace.base_url, "via": ACTOR},
            )
            invitation, token = services.invitation_create(
                workspace=workspace,
                email=admin_email,
                role=Membership.Role.ADMIN,
                request=None,
                actor_label=ACTOR,
            )
        self.stdout.write(f"Created workspace {workspace.name} (/w/{workspace.slug}/).")
        if send_email:
            sent = services.invitation_email_send(invitation=invitation, token=token, inviter=None)
            self.stdout.write(
                "Invitation emailed." if sent else "The invitation email could not be sent."
            )
        self.stdout.write(
            f"Invitation link for {invitation.email} "
            f"(works once, {settings.INVITATION_DAYS} days):\n"
            f"{services.invitation_link(token)}"
        )
