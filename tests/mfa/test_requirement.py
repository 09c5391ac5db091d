""" "Members must use two-factor sign-in": set by admins on the Settings page (audited),
enforced on the workspace's pages for every session without it; other workspaces, and
outsiders' 404, are unchanged."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from dashboard.models import AuditEvent, Membership, Workspace
from mfa.models import AuthenticatorDevice
from tests.mfa.conftest import (
    authenticator_give,
    code_for,
    code_step,
    password_step,
    verified_client,
)

pytestmark = pytest.mark.django_db


def settings_url(workspace):
    return reverse("settings_mfa", args=[workspace.slug])


@pytest.fixture
def required(workspace):
    Workspace.objects.filter(pk=workspace.pk).update(mfa_required=True)
    workspace.mfa_required = True
    return workspace


def test_an_admin_using_it_turns_the_requirement_on_audited(admin, workspace):
    device, _ = authenticator_give(admin)
    client = verified_client(admin, device)
    response = client.post(settings_url(workspace), {"mfa_required": "on"}, follow=True)
    assert "now required here" in response.content.decode()
    workspace.refresh_from_db()
    assert workspace.mfa_required
    entry = AuditEvent.objects.get(action="settings.mfa_requirement")
    assert entry.detail == {"members_must_use_two_factor": [False, True]}
    assert entry.actor == admin

    client.post(settings_url(workspace), {})
    workspace.refresh_from_db()
    assert not workspace.mfa_required
    assert AuditEvent.objects.filter(action="settings.mfa_requirement").count() == 2


def test_an_admin_without_it_cannot_lock_everyone_out(as_admin, workspace):
    response = as_admin.post(settings_url(workspace), {"mfa_required": "on"})
    assert response.status_code == 400
    assert "Turn on two-factor sign-in for your own account first" in response.content.decode()
    workspace.refresh_from_db()
    assert not workspace.mfa_required
    assert not AuditEvent.objects.filter(action="settings.mfa_requirement").exists()


def test_members_cannot_change_it(as_member, workspace):
    assert as_member.post(settings_url(workspace), {"mfa_required": "on"}).status_code == 403
    workspace.refresh_from_db()
    assert not workspace.mfa_required


def test_the_settings_page_shows_who_uses_it(as_member, admin, member, workspace):
    authenticator_give(admin)
    html = as_member.get(reverse("settings", args=[workspace.slug])).content.decode()
    assert "1 of 2 people here uses it." in html
    assert 'data-label="Two-factor"><span class="badge badge-ok">On' in html
    assert 'data-label="Two-factor"><span class="badge">Off' in html
    assert f'action="{settings_url(workspace)}"' not in html  # members read, admins change


def test_a_member_without_it_is_sent_to_set_it_up(as_member, required):
    page = reverse("accounts:list", args=[required.slug])
    response = as_member.get(page)
    assert response.status_code == 302
    assert response.url == f"{reverse('mfa:setup')}?next=%2Fw%2Facme%2Faccounts%2F"
    html = as_member.get(response.url).content.decode()
    assert "<strong>Acme</strong> requires two-factor sign-in" in html


def test_their_other_workspaces_keep_working(as_member, member, required, other_workspace):
    Membership.objects.create(user=member, workspace=other_workspace)
    assert as_member.get(reverse("overview", args=[other_workspace.slug])).status_code == 200
    assert as_member.get(reverse("overview", args=[required.slug])).status_code == 302


def test_after_setting_it_up_the_member_gets_in(as_member, member, required):
    overview = reverse("overview", args=[required.slug])
    as_member.post(reverse("mfa:setup"), {"next": overview})
    device = AuthenticatorDevice.objects.get(user=member)
    confirm = {"code": code_for(device), "next": overview}
    done = as_member.post(reverse("mfa:setup_confirm"), confirm)
    assert f'href="{overview}"' in done.content.decode()
    assert as_member.get(overview).status_code == 200


def test_a_session_from_before_the_authenticator_is_asked_for_a_code(member, required):
    device, _ = authenticator_give(member)
    client = Client()
    client.force_login(member)  # signed in by password only
    overview = reverse("overview", args=[required.slug])
    response = client.get(overview)
    assert response.url == f"{reverse('mfa:sign_in_code')}?next=%2Fw%2Facme%2F"
    page = client.get(response.url).content.decode()
    assert "This page needs a session signed in with two-factor" in page
    back = client.post(response.url, {"code": code_for(device), "next": overview})
    assert back.url == overview
    assert client.get(overview).status_code == 200


def test_a_session_signed_in_with_the_code_goes_straight_in(member, required):
    device, _ = authenticator_give(member)
    client = Client()
    password_step(client, "bob")
    code_step(client, code_for(device))
    assert client.get(reverse("overview", args=[required.slug])).status_code == 200


def test_turning_it_off_sends_the_member_back_to_setup(member, required):
    device, codes = authenticator_give(member)
    client = verified_client(member, device)
    client.post(reverse("mfa:disable"), {"password": "bob", "code": codes[0]})
    assert client.get(reverse("overview", args=[required.slug])).url.startswith(
        reverse("mfa:setup")
    )


def test_a_form_post_is_held_too_and_changes_nothing(as_admin, admin, required):
    response = as_admin.post(
        reverse("settings_syncs", args=[required.slug]),
        {"health_sync_minutes": 30, "storage_sync_minutes": 30},
    )
    assert response.status_code == 302
    assert response.url == reverse("mfa:setup")  # a post is not come back to
    required.refresh_from_db()
    assert required.health_sync_minutes != 30


def test_htmx_requests_are_redirected_as_a_whole_page(as_member, required):
    response = as_member.get(reverse("overview", args=[required.slug]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("mfa:setup")


def test_support_staff_opening_the_workspace_are_held_too(as_support, required):
    response = as_support.get(reverse("overview", args=[required.slug]))
    assert response.url.startswith(reverse("mfa:setup"))
    assert not AuditEvent.objects.filter(action="support.view").exists()


def test_outsiders_still_get_404_and_learn_nothing(as_outsider, required):
    assert as_outsider.get(reverse("overview", args=[required.slug])).status_code == 404


def test_the_requirement_costs_one_query_for_a_verified_session(
    member, required, django_assert_num_queries, django_assert_max_num_queries
):
    device, _ = authenticator_give(member)
    client = verified_client(member, device)
    url = reverse("audit", args=[required.slug])
    client.get(url)  # warm the session
    with django_assert_max_num_queries(10) as held:  # the page budget, requirement included
        assert client.get(url).status_code == 200
    Workspace.objects.filter(pk=required.pk).update(mfa_required=False)
    with django_assert_num_queries(len(held.captured_queries) - 1):
        assert client.get(url).status_code == 200


def test_the_settings_page_costs_the_same_for_one_or_many_people_using_it(
    as_admin, admin, workspace, django_assert_max_num_queries
):
    from tests.conftest import make_user

    url = reverse("settings", args=[workspace.slug])
    as_admin.get(url)  # warm the session
    with django_assert_max_num_queries(10) as few:
        as_admin.get(url)
    for index in range(12):
        person = make_user(f"person{index}")
        Membership.objects.create(user=person, workspace=workspace)
        authenticator_give(person)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = as_admin.get(url).content.decode()
    assert "12 of 13 people here use it." in html
