"""GET /v1/media, DELETE /v1/media/{id}, GET /v1/media/storage, POST /v1/media/upload."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sandbox import api_media
from sandbox.models import SandboxMedia
from sandbox.selectors import call_count, delete_calls_by_media
from sandbox.services import list_end_set, sandbox_tenant_create
from tests.sandbox.conftest import Api, account_make, media_make, post_make


def test_it_pages_through_media_newest_first(api, tenant):
    media = media_make(tenant, 7)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get("/media", query=query).json()
        pages += 1
        assert body["count"] == len(body["data"])
        seen += [item["id"] for item in body["data"]]
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert pages == 3
    assert seen == [str(m.id) for m in media]


def test_it_keeps_paging_while_items_are_deleted(api, tenant):
    media = media_make(tenant, 4)
    first = api.get("/media", query={"limit": 2}).json()
    for item in first["data"]:
        assert api.delete(f"/media/{item['id']}").status_code == 204
    second = api.get("/media", query={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [item["id"] for item in second["data"]] == [str(m.id) for m in media[2:]]
    assert not second.get("next_cursor")


def test_it_lists_only_ready_undeleted_media_of_the_tenant(api, tenant, legacy_tenant):
    live, gone, pending = media_make(tenant, 3)
    media_make(legacy_tenant, 2)
    SandboxMedia.objects.filter(pk=gone.pk).update(deleted_at="2026-01-01T00:00:00Z")
    SandboxMedia.objects.filter(pk=pending.pk).update(status="pending")
    body = api.get("/media").json()
    assert [item["id"] for item in body["data"]] == [str(live.id)]
    item = body["data"][0]
    assert set(item) == {
        "id",
        "filename",
        "content_type",
        "size_bytes",
        "status",
        "url",
        "created_at",
        "updated_at",  # fields the OpenAPI file does not list, as upstream sends them
        "thumbnail_url",
    }
    assert item["status"] == "ready" and item["created_at"].endswith("Z")


def test_a_media_url_serves_a_local_placeholder(api, tenant, client):
    media_make(tenant, 1)
    url = api.get("/media").json()["data"][0]["url"]
    assert url.startswith("http://testserver/sandbox/")
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"


def test_it_caps_the_limit_at_100(api, tenant):
    media_make(tenant, 105)
    body = api.get("/media", query={"limit": 500}).json()
    assert len(body["data"]) == 100 and body["next_cursor"]


@pytest.mark.parametrize(
    "query", [{"limit": "ten"}, {"limit": "0"}, {"limit": "-3"}, {"cursor": "zzz"}]
)
def test_it_answers_bad_paging_parameters_with_a_400(api, query):
    response = api.get("/media", query=query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.field_invalid"


def test_it_refuses_another_tenants_media_id_as_a_cursor(api, legacy_tenant):
    (foreign,) = media_make(legacy_tenant, 1)
    assert api.get("/media", query={"cursor": str(foreign.id)}).status_code == 400


def test_it_deletes_media_then_answers_404(api, tenant):
    (media,) = media_make(tenant, 1)
    first = api.delete(f"/media/{media.id}")
    assert first.status_code == 204 and first["X-Storage-Used"] == "0"
    second = api.delete(f"/media/{media.id}")
    assert second.status_code == 404
    assert second.json()["error"]["code"] == "media.not_found"
    assert delete_calls_by_media(tenant=tenant) == {str(media.id): 2}


def test_it_answers_not_found_in_the_legacy_dialect(legacy_api):
    response = legacy_api.delete(f"/media/{uuid.uuid4()}")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1"])
def test_it_answers_404_for_ids_that_are_not_uuids(api, bad_id):
    assert api.delete(f"/media/{bad_id}").status_code == 404


def test_a_nul_byte_in_an_id_is_refused_before_the_sandbox_sees_it(api):
    # The site-wide guard answers 400 (PostgreSQL refuses NUL in text columns).
    assert api.delete("/media/%00").status_code == 400


def test_it_refuses_to_delete_media_of_a_scheduled_post(api, tenant):
    used, free = media_make(tenant, 2)
    post_make(tenant, [account_make(tenant)], media=[used])
    response = api.delete(f"/media/{used.id}")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "media.in_use" and error["meta"]["id"] == str(used.id)
    used.refresh_from_db()
    assert used.deleted_at is None
    assert api.delete(f"/media/{free.id}").status_code == 204


def test_media_of_a_published_post_can_be_deleted(api, tenant):
    (media,) = media_make(tenant, 1)
    post_make(tenant, [account_make(tenant)], media=[media], status="published")
    assert api.delete(f"/media/{media.id}").status_code == 204


def test_the_in_use_conflict_reads_as_a_conflict_in_the_legacy_dialect(legacy_api, legacy_tenant):
    (media,) = media_make(legacy_tenant, 1)
    post_make(legacy_tenant, [account_make(legacy_tenant)], media=[media])
    response = legacy_api.delete(f"/media/{media.id}")
    assert response.status_code == 409 and response.json()["code"] == "media.in_use"


def test_storage_figures_match_the_media(api, tenant):
    media = media_make(tenant, 5, size=1_000_000)
    api.delete(f"/media/{media[0].id}")
    response = api.get("/media/storage")
    assert response.json() == {"used_bytes": 4_000_000, "limit_bytes": 104_857_600, "count": 4}
    assert response["X-Storage-Used"] == "4000000"
    assert response["X-Storage-Limit"] == "104857600"
    listing = api.get("/media")
    assert listing["X-Storage-Used"] == "4000000"


def test_paid_plans_report_unlimited_storage(client, db):
    api = Api(client, sandbox_tenant_create(name="Big", plan="pro").api_key)
    assert api.get("/media/storage").json()["limit_bytes"] == -1


def upload(api, size: int, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    file = SimpleUploadedFile(name, b"x" * size, content_type=content_type)
    return api.post("/media/upload", files={"file": file})


def test_it_uploads_a_file_and_records_its_size(api, tenant):
    response = upload(api, 2048, name="../../etc/cat.png", content_type="image/png")
    assert response.status_code == 201
    media = SandboxMedia.objects.get(pk=response.json()["media_id"])
    assert (media.filename, media.content_type, media.size_bytes) == ("cat.png", "image/png", 2048)
    assert response["X-Storage-Used"] == "2048"


def test_it_refuses_an_upload_over_the_storage_quota(api, tenant):
    tenant.storage_limit_bytes = 5000
    tenant.save()
    media_make(tenant, 1, size=4000)
    response = upload(api, 2000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "billing.storage_quota"
    assert SandboxMedia.objects.count() == 1


def test_it_answers_storage_quota_exceeded_in_the_legacy_dialect(legacy_api, legacy_tenant):
    legacy_tenant.storage_limit_bytes = 10
    legacy_tenant.save()
    response = upload(legacy_api, 11)
    assert (response.status_code, response.json()["code"]) == (413, "storage_quota_exceeded")


def test_it_refuses_files_over_50_mb(api, monkeypatch):
    monkeypatch.setattr(api_media, "MAX_UPLOAD_BYTES", 100)
    response = upload(api, 101)
    assert response.status_code == 400
    assert response.json()["error"]["meta"]["field"] == "file"


def test_it_asks_for_the_file(api):
    response = api.post("/media/upload", files={"other": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.field_required"


def test_it_answers_a_json_upload_with_a_400(api):
    assert api.post("/media/upload", {"file": "x"}).status_code == 400


def test_a_test_can_count_delete_calls_per_media_id(api, tenant):
    a, b = media_make(tenant, 2)
    for _ in range(3):
        api.delete(f"/media/{a.id}")
    api.delete(f"/media/{b.id}")
    assert call_count(method="DELETE", media_id=str(a.id)) == 3
    assert delete_calls_by_media() == {str(a.id): 3, str(b.id): 1}


@pytest.mark.parametrize(("end", "expected"), [("empty", ""), ("missing", None)])
def test_the_last_page_ends_the_way_the_tenant_does(api, tenant, end, expected):
    """Upstream ends a list with `next_cursor: ""` or with no cursor: the docs allow both."""
    list_end_set(tenant=tenant, list_end=end)
    media_make(tenant, 3)
    first = api.get("/media", query={"limit": 2}).json()
    assert first["next_cursor"]
    last = api.get("/media", query={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(last["data"]) == 1 and last.get("next_cursor") == expected
    assert ("next_cursor" in last) is (expected is not None)


def test_new_tenants_end_their_lists_either_way(db):
    ends = {sandbox_tenant_create(name=f"Tenant {n}").list_end for n in range(64)}
    assert ends == {"empty", "missing"}
    pinned = sandbox_tenant_create(name="Pinned", list_end="empty")
    assert pinned.list_end == "empty"
