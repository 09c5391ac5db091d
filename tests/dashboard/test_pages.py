"""The workspace core pages render for the right people."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_people_to_login(client, workspace):
    response = client.get(reverse("overview", args=[workspace.slug]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_shows_the_overview_to_a_member(as_member, workspace):
    response = as_member.get(reverse("overview", args=[workspace.slug]))
    assert response.status_code == 200
    assert b"Account health" in response.content


def test_it_hides_another_workspace_from_an_outsider(as_outsider, workspace):
    response = as_outsider.get(reverse("overview", args=[workspace.slug]))
    assert response.status_code == 404


def test_it_sends_a_person_with_one_workspace_straight_to_it(as_admin, workspace):
    response = as_admin.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse("overview", args=[workspace.slug])


def test_it_lets_support_read_any_workspace_and_audits_it(as_support, workspace):
    from dashboard.models import AuditEvent

    response = as_support.get(reverse("overview", args=[workspace.slug]))
    assert response.status_code == 200
    assert b"as support staff" in response.content
    assert AuditEvent.objects.filter(workspace=workspace, action="support.view").count() == 1


def test_the_health_check_answers(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_relative_times_keep_ago_when_they_have_two_units():
    from datetime import timedelta

    from django.utils import timezone

    from dashboard.templatetags.dashboard_tags import when

    assert ">10\xa0hours ago</time>" in when(timezone.now() - timedelta(hours=10, minutes=5))
    assert ">in 2\xa0days</time>" in when(timezone.now() + timedelta(days=2, hours=3))
    assert "UTC" in when(timezone.now())


def test_coming_back_to_the_same_workspace_does_not_rewrite_the_session(
    as_member, workspace, monkeypatch
):
    from django.contrib.sessions.backends.cached_db import SessionStore

    url = reverse("overview", args=[workspace.slug])
    as_member.get(url)  # remembers the workspace
    saves: list[str] = []
    real_save = SessionStore.save

    def save(self, *args, **kwargs):
        saves.append(self.session_key)
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(SessionStore, "save", save)
    as_member.get(url)

    assert saves == []
