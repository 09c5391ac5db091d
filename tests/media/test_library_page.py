"""The media library table: filters, sorting, pagination, selection, thumbnails."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from media import tasks
from media.models import MediaItem, MediaLibrary
from tests.media.conftest import MB

pytestmark = pytest.mark.django_db


def library_url(workspace):
    return reverse("media:library", args=[workspace.slug])


def names(html: str) -> list[str]:
    return re.findall(r'<span class="cell-main file-name">([^<]+)</span>', html)


def test_it_filters_by_type_age_name_and_use(as_member, workspace, make_media):
    make_media(3, content_type="video/mp4", prefix="clip", age_days=40)
    make_media(2, content_type="image/png", prefix="logo", age_days=2)
    make_media(2, content_type="image/jpeg", prefix="photo", age_days=100, in_use=True)
    make_media(1, content_type="application/pdf", prefix="menu", age_days=1)

    def shown(**params):
        return names(as_member.get(library_url(workspace), params).content.decode())

    assert len(shown()) == 8
    assert all(n.startswith("clip") for n in shown(type="video")) and len(shown(type="video")) == 3
    assert len(shown(type="image")) == 4
    assert sorted(shown(type="image/png")) == ["logo-00003.png", "logo-00004.png"]
    assert shown(type="document") == ["menu-00007.pdf"]
    assert len(shown(older_than="30")) == 5
    assert shown(q="LOGO-00003") == ["logo-00003.png"]
    assert len(shown(usage="in_use")) == 2 and len(shown(usage="unused")) == 6
    assert len(shown(type="image", older_than="30", usage="in_use")) == 2


def test_it_sorts_by_size_date_name_and_type(as_member, workspace, make_media):
    small = make_media(1, size=10, prefix="b", age_days=1)[0]
    big = make_media(1, size=999, prefix="a", age_days=5, content_type="video/mp4")[0]
    mid = make_media(1, size=500, prefix="c", age_days=3, content_type="image/png")[0]

    def order(sort):
        return names(as_member.get(library_url(workspace), {"sort": sort}).content.decode())

    assert order("-size") == [big.filename, mid.filename, small.filename]
    assert order("size") == [small.filename, mid.filename, big.filename]
    assert order("-created") == [small.filename, mid.filename, big.filename]
    assert order("name") == [big.filename, small.filename, mid.filename]
    assert order("type") == [
        small.filename,
        mid.filename,
        big.filename,
    ]  # image/jpeg, image/png, video
    # The default is largest first: the most useful order to free space.
    assert order("") == order("-size")


def test_it_paginates_on_the_server(as_member, workspace, make_media):
    make_media(120, size=MB)
    first = as_member.get(library_url(workspace)).content.decode()
    third = as_member.get(library_url(workspace), {"page": "3"}).content.decode()
    assert len(names(first)) == 50 and len(names(third)) == 20
    assert "Page 1 of 3" in first and "120 in all" in first
    assert set(names(first)).isdisjoint(names(third))
    # Nonsense page numbers fall back instead of failing.
    assert as_member.get(library_url(workspace), {"page": "abc"}).status_code == 200
    assert as_member.get(library_url(workspace), {"page": "99"}).status_code == 200


def test_bad_filter_values_are_ignored_with_a_message_never_a_500(as_member, workspace, make_media):
    make_media(2)
    for params in (
        {"older_than": "-4"},
        {"older_than": "99999999999999999999"},
        {"type": "<script>"},
        {"sort": "password"},
        {"usage": "everything"},
        {"q": "x" * 500},
        {"type": "image/" + "a" * 200},
    ):
        response = as_member.get(library_url(workspace), params)
        assert response.status_code == 200, params
        assert b"<script>" not in response.content
    html = as_member.get(library_url(workspace), {"older_than": "-4"}).content.decode()
    assert 'aria-invalid="true"' in html
    assert len(names(html)) == 2  # the broken filter is not applied


def test_admins_get_checkboxes_select_page_and_select_all_matching(as_admin, workspace, make_media):
    make_media(60, content_type="image/png")
    make_media(5, content_type="video/mp4")
    html = as_admin.get(
        library_url(workspace), {"type": "image", "older_than": "0"}
    ).content.decode()
    assert 'data-select-all="media_ids"' in html
    assert html.count('name="media_ids"') == 50  # this page only
    assert 'name="scope" value="all">' in html and "Delete all 60 matching…" in html
    # The selection is the filter: it travels as hidden fields, not as ids.
    form = html[
        html.index('class="library-form"') : html.index(
            "</form>", html.index('class="library-form"')
        )
    ]
    assert '<input type="hidden" name="type" value="image">' in form
    assert '<input type="hidden" name="older_than" value="0">' in form


def test_members_get_no_checkboxes_and_no_delete_buttons(
    as_member, as_support, workspace, make_media
):
    make_media(5)
    for client in (as_member, as_support):
        html = client.get(library_url(workspace)).content.decode()
        assert (
            'name="media_ids"' not in html and "Delete all" not in html and "Sync now" not in html
        )


def test_thumbnails_only_for_same_origin_images_else_a_type_icon(as_member, workspace, make_media):
    local, foreign, video = make_media(3)
    MediaItem.objects.filter(pk=local.pk).update(url="http://testserver/sandbox/files/abc")
    MediaItem.objects.filter(pk=foreign.pk).update(url="https://cdn.example.com/abc.jpg")
    MediaItem.objects.filter(pk=video.pk).update(
        url="http://testserver/sandbox/files/v", content_type="video/mp4"
    )
    html = as_member.get(library_url(workspace)).content.decode()
    assert '<img src="http://testserver/sandbox/files/abc"' in html
    assert "cdn.example.com" not in html
    assert html.count('class="type-icon"') == 2


def test_the_htmx_request_gets_only_the_results_region(as_member, workspace, make_media):
    make_media(3)
    response = as_member.get(
        library_url(workspace),
        {"sort": "name"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="library-results",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="library-results">') and "<html" not in html
    # Sort links keep a real href for people without JavaScript.
    assert re.search(r'<a id="sort-name" href="\?sort=-name" hx-get="\?sort=-name"', html)


def test_sync_now_enqueues_a_sync_for_admins_only(
    as_admin, as_member, workspace, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr(tasks.media_library_sync, "delay", sent.append)
    assert as_member.post(reverse("media:library_sync", args=[workspace.slug])).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin.post(reverse("media:library_sync", args=[workspace.slug]))
    assert response.status_code == 302 and sent == [workspace.pk]


def test_a_failed_sync_is_shown_with_its_request_id(as_member, workspace):
    from django.utils import timezone

    MediaLibrary.objects.create(
        workspace=workspace,
        sync_error_code="system.internal",
        sync_error_request_id="req_123",
        sync_error_at=timezone.now(),
    )
    html = as_member.get(library_url(workspace)).content.decode()
    assert "last sync failed" in html and "req_123" in html
