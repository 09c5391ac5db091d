"""`manage.py workspace_create`: a workspace and an invitation for its first admin."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from dashboard.models import AuditEvent, Invitation, Workspace

pytestmark = pytest.mark.django_db


def test_it_creates_the_workspace_and_prints_a_one_time_admin_invitation(client):
    out = StringIO()
    call_command(
        "workspace_create",
        "Initech Social",
        "--admin-email",
        "peter@initech.test",
        "--send-email",
        stdout=out,
    )
    workspace = Workspace.objects.get(slug="initech-social")
    invitation = Invitation.objects.get(workspace=workspace)
    assert (invitation.email, invitation.role) == ("peter@initech.test", "admin")
    link = out.getvalue().strip().splitlines()[-1]
    assert "/invitations/inv_" in link
    assert mail.outbox[0].to == ["peter@initech.test"]
    invited = AuditEvent.objects.get(workspace=workspace, action="member.invite")
    assert (invited.actor_label, invited.actor, invited.ip) == ("manage.py", None, None)
    created = AuditEvent.objects.get(workspace=workspace, action="workspace.create")
    assert created.actor_label == "manage.py"
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    assert client.get(path).status_code == 200


def test_it_refuses_a_taken_slug_or_a_bad_email(workspace):
    with pytest.raises(CommandError, match="exists already"):
        call_command("workspace_create", "Acme", "--admin-email", "a@b.test", stdout=StringIO())
    with pytest.raises(CommandError, match="valid email"):
        call_command("workspace_create", "New", "--admin-email", "nope", stdout=StringIO())
    assert not Workspace.objects.filter(slug="new").exists()
