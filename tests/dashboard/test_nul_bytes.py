"""NUL bytes never reach the database (PostgreSQL refuses them in text columns)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_rejects_a_nul_byte_in_a_search_box(as_admin, workspace):
    response = as_admin.get(f"/w/{workspace.slug}/accounts/?q=a%00b")
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_it_rejects_a_nul_byte_in_a_form(as_admin, workspace):
    response = as_admin.post(f"/w/{workspace.slug}/settings/alerts/", {"alert_storage": "\x00"})
    assert response.status_code == 400


def test_it_rejects_a_nul_byte_in_a_parameter_name(as_admin, workspace):
    assert as_admin.get(f"/w/{workspace.slug}/accounts/?q%00=x").status_code == 400


def test_it_rejects_a_nul_byte_in_the_path(client, db):
    assert client.get("/w/ac%00me/").status_code == 400


def test_ordinary_queries_pass(as_admin, workspace):
    assert as_admin.get(f"/w/{workspace.slug}/accounts/?q=insta").status_code == 200


def test_a_view_that_reads_the_raw_body_still_can_after_a_form_post(client, workspace):
    # The webhook receiver authenticates the raw bytes: the form check must not eat them.
    response = client.post(f"/webhooks/socialapi/{workspace.slug}", {"event": "x"})
    assert response.status_code < 500
