"""Members: invitations by email, the accept page, role changes, removal, the last admin."""

from __future__ import annotations

import re
import smtplib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from dashboard.models import AuditEvent, Invitation, Membership
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def invite(client, workspace, email="carol@example.com", role="member"):
    return client.post(
        reverse("member_invite", args=[workspace.slug]), {"email": email, "role": role}
    )


def link_from(response: Any) -> str:
    html = response.content.decode()
    return str(html).split('id="revealed-value"', 1)[1].split('value="', 1)[1].split('"', 1)[0]


def path_of(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def test_an_admin_invites_someone_by_email(as_admin, workspace, settings):
    response = invite(as_admin, workspace, email="Carol@Example.com", role="admin")

    assert response.status_code == 200
    link = link_from(response)
    assert link.startswith(settings.SITE_URL + "/invitations/inv_")
    [message] = mail.outbox
    assert message.to == ["carol@example.com"]
    assert link in message.body
    assert "Acme" in message.subject
    invitation = Invitation.objects.get(workspace=workspace)
    assert (invitation.email, invitation.role, invitation.state) == (
        "carol@example.com",
        "admin",
        "pending",
    )
    token = link.rsplit("/", 2)[-2]
    assert token not in invitation.token_hash
    entry = AuditEvent.objects.get(action="member.invite")
    assert entry.detail == {"email": "carol@example.com", "role": "admin"}


def test_inviting_again_replaces_the_pending_invitation(as_admin, workspace):
    first = link_from(invite(as_admin, workspace))
    second = link_from(invite(as_admin, workspace))
    assert first != second
    assert (
        Invitation.objects.get(token_hash__isnull=False, revoked_at=None).email
        == "carol@example.com"
    )
    assert Invitation.objects.filter(revoked_at__isnull=False).count() == 1


def test_it_refuses_to_invite_someone_already_in_the_workspace(as_admin, workspace, member):
    response = invite(as_admin, workspace, email=member.email.upper())
    assert response.status_code == 400
    assert "already belongs to Acme" in response.content.decode()
    assert not Invitation.objects.exists()


def test_it_refuses_an_invalid_email(as_admin, workspace):
    response = invite(as_admin, workspace, email="not an email")
    assert response.status_code == 400
    assert "Enter a valid email address" in response.content.decode()
    assert mail.outbox == []


def test_when_the_mail_server_refuses_the_admin_gets_the_link_to_send(
    as_admin, workspace, monkeypatch
):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPException("relay denied")

    monkeypatch.setattr("dashboard.services.send_mail", refuse)
    response = invite(as_admin, workspace)
    assert response.status_code == 200
    assert "could not be sent" in response.content.decode()
    assert "/invitations/inv_" in link_from(response)


def test_a_member_cannot_invite(as_member, workspace):
    assert invite(as_member, workspace).status_code == 403
    assert not Invitation.objects.exists()


def test_a_new_person_creates_an_account_from_the_invitation_and_joins(as_admin, workspace, client):
    path = path_of(link_from(invite(as_admin, workspace, role="admin")))
    page = client.get(path)
    assert page.status_code == 200
    assert "Join Acme" in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"  # the token stays on our origin
    assert page["Cache-Control"] == "no-store"  # one person's sign-up: no shared cache keeps it
    assert page["X-Robots-Tag"] == "noindex"

    response = client.post(
        path,
        {
            "username": "carol",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("overview", args=[workspace.slug])
    carol = User.objects.get(username="carol")
    assert carol.email == "carol@example.com"
    assert Membership.objects.get(user=carol, workspace=workspace).role == "admin"
    assert Invitation.objects.get().state == "accepted"
    assert AuditEvent.objects.filter(action="member.join", actor=carol).exists()
    assert client.get(reverse("overview", args=[workspace.slug])).status_code == 200  # signed in


def test_a_weak_password_is_refused_and_nothing_is_created(as_admin, workspace, client):
    path = path_of(link_from(invite(as_admin, workspace)))
    response = client.post(path, {"username": "carol", "password1": "carol", "password2": "carol"})
    assert response.status_code == 400
    assert not User.objects.filter(username="carol").exists()
    assert Invitation.objects.get().state == "pending"


def test_a_taken_username_is_refused(as_admin, workspace, client, member):
    path = path_of(link_from(invite(as_admin, workspace)))
    response = client.post(
        path,
        {
            "username": "BOB",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
    )
    assert response.status_code == 400
    assert "username is taken" in response.content.decode()


def test_a_username_taken_by_a_concurrent_sign_up_is_refused_not_a_500(
    as_admin, workspace, client, monkeypatch
):
    from dashboard.forms import InvitationSignupForm

    path = path_of(link_from(invite(as_admin, workspace)))
    checked = InvitationSignupForm._post_clean

    def other_sign_up_wins(self):
        checked(self)  # every check passed: "carol" was free a moment ago
        User.objects.create_user(username="carol", password="x")

    monkeypatch.setattr(InvitationSignupForm, "_post_clean", other_sign_up_wins)

    response = client.post(
        path,
        {
            "username": "carol",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
    )

    assert response.status_code == 400
    assert "username is taken" in response.content.decode()
    assert User.objects.filter(username="carol").count() == 1
    assert Invitation.objects.get().state == "pending"
    assert "_auth_user_id" not in client.session


def test_the_invitation_page_works_when_the_workspace_secrets_cannot_be_decrypted(
    as_admin, workspace, client, settings
):
    from cryptography.fernet import Fernet

    path = path_of(link_from(invite(as_admin, workspace)))
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the key was lost

    page = client.get(path)
    assert page.status_code == 200
    assert "Join Acme" in page.content.decode()

    response = client.post(
        path,
        {
            "username": "carol",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
    )
    assert response.status_code == 302
    assert Membership.objects.filter(user__username="carol", workspace=workspace).exists()


def test_a_signed_in_person_joins_with_one_click(as_admin, workspace, outsider, as_outsider):
    path = path_of(link_from(invite(as_admin, workspace, email=outsider.email)))
    page = as_outsider.get(path).content.decode()
    assert "Join as mallory" in page
    response = as_outsider.post(path)
    assert response.status_code == 302
    assert Membership.objects.get(user=outsider, workspace=workspace).role == "member"
    # Both workspaces now: the isolation is per membership, not per person.
    assert as_outsider.get(reverse("overview", args=[workspace.slug])).status_code == 200


def test_an_invitation_works_only_once(as_admin, workspace, as_outsider, client):
    path = path_of(link_from(invite(as_admin, workspace)))
    as_outsider.post(path)
    again = client.get(path)
    assert again.status_code == 410
    assert "already used" in again.content.decode()
    replay = client.post(
        path,
        {
            "username": "eve",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
    )
    assert replay.status_code == 410
    assert not User.objects.filter(username="eve").exists()


def test_an_expired_invitation_is_refused(as_admin, workspace, client):
    path = path_of(link_from(invite(as_admin, workspace)))
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(path)
    assert response.status_code == 410
    assert "expired" in response.content.decode()


def test_a_withdrawn_invitation_is_refused(as_admin, workspace, client):
    path = path_of(link_from(invite(as_admin, workspace)))
    invitation = Invitation.objects.get()
    as_admin.post(reverse("invitation_revoke", args=[workspace.slug, invitation.pk]))
    assert client.get(path).status_code == 410
    assert AuditEvent.objects.filter(action="member.invite_revoke").count() == 1


@pytest.mark.parametrize("token", ["inv_nope", "x" * 300, "inv_%00"])
def test_an_unknown_invitation_link_is_a_clear_404(client, db, token):
    response = client.get(reverse("invitation_accept", args=[token]))
    assert response.status_code == 404
    assert "not valid" in response.content.decode()
    assert response["Cache-Control"] == "no-store"


def test_another_workspaces_admin_cannot_withdraw_our_invitations(
    as_admin, workspace, as_outsider, other_workspace
):
    invite(as_admin, workspace)
    invitation = Invitation.objects.get()
    assert (
        as_outsider.post(
            reverse("invitation_revoke", args=[other_workspace.slug, invitation.pk])
        ).status_code
        == 404
    )
    assert Invitation.objects.get().state == "pending"


def test_an_admin_makes_a_member_an_admin_and_back(as_admin, workspace, member):
    membership = Membership.objects.get(user=member)
    url = reverse("member_role", args=[workspace.slug, membership.pk])
    assert as_admin.post(url, {"role": "admin"}).status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == "admin"
    as_admin.post(url, {"role": "member"})
    assert Membership.objects.get(pk=membership.pk).role == "member"
    changes = AuditEvent.objects.filter(action="member.role_change").order_by("id")
    assert [e.detail for e in changes] == [
        {"from": "member", "to": "admin"},
        {"from": "admin", "to": "member"},
    ]
    assert changes[0].target_label == "bob"


def test_the_last_admin_cannot_be_demoted(as_admin, workspace, admin):
    membership = Membership.objects.get(user=admin)
    response = as_admin.post(
        reverse("member_role", args=[workspace.slug, membership.pk]),
        {"role": "member"},
        follow=True,
    )
    assert "only admin" in response.content.decode()
    assert Membership.objects.get(pk=membership.pk).role == "admin"


def test_the_last_admin_cannot_be_removed(as_admin, workspace, admin):
    membership = Membership.objects.get(user=admin)
    response = as_admin.post(
        reverse("member_remove", args=[workspace.slug, membership.pk]), follow=True
    )
    assert "cannot be removed" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_an_admin_can_leave_when_another_admin_remains(as_admin, workspace, admin):
    Membership.objects.create(user=make_user("dave"), workspace=workspace, role="admin")
    membership = Membership.objects.get(user=admin)
    response = as_admin.post(reverse("member_remove", args=[workspace.slug, membership.pk]))
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert as_admin.get(reverse("overview", args=[workspace.slug])).status_code == 404


def test_removing_a_member_asks_first_then_removes(as_admin, workspace, member):
    membership = Membership.objects.get(user=member)
    url = reverse("member_remove", args=[workspace.slug, membership.pk])
    confirm = as_admin.get(url)
    assert confirm.status_code == 200
    assert "Remove bob from Acme?" in confirm.content.decode()
    assert "is a member of Acme" in confirm.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()
    as_admin.post(url)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    entry = AuditEvent.objects.get(action="member.remove")
    assert (entry.target_label, entry.detail["role"]) == ("bob", "member")


def test_a_member_cannot_change_roles_or_remove_anyone(as_member, workspace, admin):
    membership = Membership.objects.get(user=admin)
    assert (
        as_member.post(
            reverse("member_role", args=[workspace.slug, membership.pk]), {"role": "member"}
        ).status_code
        == 403
    )
    assert (
        as_member.post(reverse("member_remove", args=[workspace.slug, membership.pk])).status_code
        == 403
    )
    assert Membership.objects.get(pk=membership.pk).role == "admin"


def test_an_unknown_role_is_refused(as_admin, workspace, member):
    membership = Membership.objects.get(user=member)
    as_admin.post(reverse("member_role", args=[workspace.slug, membership.pk]), {"role": "owner"})
    assert Membership.objects.get(pk=membership.pk).role == "member"


def test_the_page_hides_controls_for_the_only_admin(as_admin, workspace, admin, member):
    html = as_admin.get(reverse("settings", args=[workspace.slug])).content.decode()
    own = Membership.objects.get(user=admin)
    assert "Only admin: cannot be demoted or removed" in html
    assert reverse("member_remove", args=[workspace.slug, own.pk]) not in html
    other = Membership.objects.get(user=member)
    assert reverse("member_remove", args=[workspace.slug, other.pk]) in html


def test_the_invitation_email_has_no_html_escaping_in_the_link(as_admin, workspace):
    invite(as_admin, workspace)
    body = mail.outbox[0].body
    assert re.search(r"https?://\S+/invitations/inv_[\w-]+/", body)
    assert "&amp;" not in body
