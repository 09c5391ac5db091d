"""The pages: "N posts failed while this account was broken" where a fix lands and on the
account, the confirmation with its credits, the job with a result per post."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.links import reconnect_link_create
from dashboard.models import AuditEvent
from posts.models import FailedPost, PostRetryItem, PostRetryJob
from sandbox.models import SandboxAccount, SandboxTenant
from tests.accounts.conftest import follow_consent, local

pytestmark = pytest.mark.django_db

COUNT = "3 posts failed while this account was broken"


def detail(world) -> str:
    return reverse("accounts:detail", args=[world.workspace.slug, world.account.pk])


def confirm_url(world) -> str:
    return reverse("posts:retry", args=[world.workspace.slug, world.account.pk])


def broken_with_posts(world, count=3):
    for n in range(count):
        world.failed_post(f"Post number {n} <i>with HTML</i>")
    world.collect()


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_account_lists_its_failed_posts_and_waits_for_the_fix(world, as_admin, as_member):
    broken_with_posts(world)

    page = text(as_admin.get(detail(world)))

    assert COUNT in page and "Fix the account first (reconnect it)" in page
    assert "Retry them" not in page
    assert "Post number 0 &lt;i&gt;with HTML&lt;/i&gt;" in page
    assert "SocialAPI said: “The Instagram access token expired" in page
    assert "account.reconnection_required" in page
    assert COUNT in text(as_member.get(detail(world)))


def test_once_fixed_admins_get_retry_them_and_members_only_the_count(world, as_admin, as_member):
    broken_with_posts(world)
    world.fix()

    admin_page = text(as_admin.get(detail(world)))
    member_page = text(as_member.get(detail(world)))

    assert COUNT in admin_page and confirm_url(world) in admin_page and "Retry them" in admin_page
    assert COUNT in member_page and "Retry them" not in member_page
    assert "A workspace admin can retry them." in member_page


def test_a_reconnect_lands_on_the_count_with_retry_them(world, as_admin):
    broken_with_posts(world)
    press = as_admin.post(
        reverse("accounts:reconnect", args=[world.workspace.slug, world.account.pk])
    )
    back = follow_consent(as_admin, press["Location"], identity=world.upstream_account.id)

    landed = as_admin.get(local(back), follow=True)

    page = text(landed)
    assert "is reconnected and active again. " + COUNT + ": you can retry them below." in page
    assert f"?account={world.account.pk}" in landed.redirect_chain[-1][0]
    assert confirm_url(world) in page


def test_an_owner_with_a_reconnect_link_sees_only_the_count(world, admin):
    broken_with_posts(world)
    request = type("R", (), {"user": admin, "META": {}})()
    link = reconnect_link_create(account=world.account, request=request).url
    owner = Client()
    started = owner.post(local(link))
    back = follow_consent(owner, started["Location"], identity=world.upstream_account.id)

    done = owner.get(local(back), follow=True)

    page = text(done)
    assert done.redirect_chain[-1][0] == reverse("reconnect_done")
    assert COUNT + "; the team that sent you this link can retry them." in page
    assert "Post number" not in page and "Retry them" not in page


def test_new_credentials_land_on_the_count_too(world, as_admin):
    telegram = SandboxAccount.objects.create(
        id="acc_bot_retry",
        tenant=world.tenant,
        brand=world.upstream_account.brand,
        platform="telegram",
        name="Bot",
        username="bot",
        credentials_valid=False,
    )
    world.upstream_account = telegram
    from accounts.models import SocialAccount

    world.account = SocialAccount.objects.create(
        workspace=world.workspace,
        upstream_id=telegram.id,
        platform="telegram",
        name="Bot",
        brand_id=telegram.brand_id,
        status="credentials_invalid",
    )
    world.failed_post("Today's special")
    world.collect()
    url = reverse("accounts:credentials", args=[world.workspace.slug, world.account.pk])

    answer = as_admin.post(url, {"bot_token": "123456:NEW-token"}, follow=True)

    page = text(answer)
    assert "is active again. 1 post failed while this account was broken" in page
    assert confirm_url(world) in page


def test_the_confirmation_says_what_it_uses_and_what_is_left(world, as_admin):
    broken_with_posts(world)
    world.fix()
    SandboxTenant.objects.filter(pk=world.tenant.pk).update(posts_used=8)
    world.usage()

    page = text(as_admin.get(confirm_url(world)))

    assert "Retry 2 failed posts?" in page
    assert "2 of 10 are left this month; this retry uses 2, leaving 0." in page
    assert "Only 2 credits left: 1 post waits." in page
    assert "due at a time that has passed" in page and "out now, late" in page
    assert 'name="expected_count" value="2"' in page
    assert not PostRetryJob.objects.exists()  # a GET changes nothing


def test_without_usage_figures_it_says_it_cannot_tell(world, as_admin):
    broken_with_posts(world, count=1)
    world.fix()

    page = text(as_admin.get(confirm_url(world)))

    assert "cannot tell how many are left" in page and "Retry 1 failed post?" in page


def test_confirming_runs_the_job_and_shows_a_result_per_post(
    world, as_admin, django_capture_on_commit_callbacks
):
    broken_with_posts(world)
    world.fix()
    world.usage()

    with django_capture_on_commit_callbacks(execute=True):
        answer = as_admin.post(confirm_url(world), {"expected_count": "3"})

    job = PostRetryJob.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("posts:job", args=[world.workspace.slug, job.pk])
    assert "Retrying 3 posts" in str(next(iter(get_messages(answer.wsgi_request))))
    page = text(as_admin.get(answer["Location"]))
    assert "3 of 3 posts done" in page and page.count(">Published<") >= 3
    assert "not at its original time" in page
    assert AuditEvent.objects.filter(action="post.retry.request", actor__isnull=False).exists()
    after = text(as_admin.get(detail(world)))
    assert "failed while this account was broken" in after and "Last retry:" in after
    assert COUNT not in after


def test_a_changed_plan_shows_the_confirmation_again_and_does_nothing(world, as_admin):
    broken_with_posts(world)
    world.fix()

    answer = as_admin.post(confirm_url(world), {"expected_count": "2"})

    assert answer.status_code == 409 and "The posts to retry changed" in text(answer)
    assert not PostRetryJob.objects.exists()


@pytest.mark.parametrize("value", ["", "abc", "0", "-3", "99999"])
def test_a_bad_confirmation_is_refused_with_words_and_changes_nothing(world, as_admin, value):
    broken_with_posts(world)
    world.fix()

    answer = as_admin.post(confirm_url(world), {"expected_count": value}, follow=True)

    assert answer.status_code == 200
    assert "Nothing was retried" in text(answer)
    assert not PostRetryJob.objects.exists()
    assert set(FailedPost.objects.values_list("state", flat=True)) == {"open"}


def test_a_broken_account_cannot_be_retried_from_the_confirmation(world, as_admin):
    broken_with_posts(world)

    page = as_admin.get(confirm_url(world))
    refused = as_admin.post(confirm_url(world), {"expected_count": "3"}, follow=True)

    assert "is not working yet" in text(page) and 'name="expected_count"' not in text(page)
    assert "is not working yet" in text(refused)
    assert not PostRetryJob.objects.exists()


def test_members_and_support_cannot_retry(world, as_member, as_support):
    broken_with_posts(world)
    world.fix()

    for client in (as_member, as_support):
        assert client.get(confirm_url(world)).status_code == 403
        assert client.post(confirm_url(world), {"expected_count": "3"}).status_code == 403
    assert not PostRetryJob.objects.exists()


def test_the_job_page_polls_only_its_progress_while_it_runs(world, as_admin, as_member):
    broken_with_posts(world, count=1)
    world.fix()
    from posts.retry_jobs import post_retry_job_create

    job = post_retry_job_create(account=world.account, expected_count=1)
    url = reverse("posts:job", args=[world.workspace.slug, job.pk])

    page = as_member.get(url)
    part = as_member.get(url, headers={"HX-Request": "true"})

    assert 'hx-trigger="every 2s"' in text(page) and "Waiting to be sent." in text(page)
    assert "<html" not in part.content.decode() and 'id="retry-' in part.content.decode()


def test_an_unknown_outcome_can_be_listed_again_after_checking(world, as_admin, as_member):
    broken_with_posts(world, count=1)
    failed = FailedPost.objects.get()
    FailedPost.objects.filter(pk=failed.pk).update(state="unknown", outcome="Check the post.")
    world.fix()
    url = reverse("posts:relist", args=[world.workspace.slug, failed.pk])

    assert "It was not retried: list it again" in text(as_admin.get(detail(world)))
    assert as_member.post(url).status_code == 403
    answer = as_admin.post(url, {"next": detail(world)}, follow=True)
    again = as_admin.post(url, follow=True)

    assert "is listed again" in text(answer) and "1 post failed while" in text(answer)
    assert "settled meanwhile" in text(again)
    assert FailedPost.objects.get().state == "open"
    assert AuditEvent.objects.filter(action="post.retry.relist").count() == 1


def test_other_workspaces_never_see_these_posts(world, as_outsider, other_workspace):
    broken_with_posts(world, count=1)
    world.fix()
    from posts.retry_jobs import post_retry_job_create

    job = post_retry_job_create(account=world.account, expected_count=1)

    assert as_outsider.get(reverse("posts:job", args=["acme", job.pk])).status_code == 404
    assert as_outsider.get(reverse("posts:job", args=["globex", job.pk])).status_code == 404
    own = reverse("posts:retry", args=["globex", world.account.pk])
    assert as_outsider.get(own).status_code == 404
    relist = reverse("posts:relist", args=["globex", FailedPost.objects.get().pk])
    assert as_outsider.post(relist).status_code == 404


def test_the_pages_cost_the_same_queries_for_one_post_and_for_thirty(
    world, as_admin, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from posts.retry_jobs import post_retry_job_create

    def measure(url: str) -> int:
        as_admin.get(url)
        with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as ctx:
            assert as_admin.get(url).status_code == 200
        return len(ctx.captured_queries)

    def urls() -> list[str]:
        job = PostRetryJob.objects.order_by("-id")[0]
        listed = reverse("accounts:list", args=[world.workspace.slug])
        return [
            detail(world),
            f"{listed}?account={world.account.pk}",
            confirm_url(world),
            reverse("posts:job", args=[world.workspace.slug, job.pk]),
        ]

    world.failed_post("first")
    world.failed_post("second")
    world.collect()
    world.fix()
    world.usage()
    post_retry_job_create(account=world.account, expected_count=2)
    one = [measure(url) for url in urls()]
    for n in range(30):
        world.report(world.failed_post(f"more {n}"))
    PostRetryJob.objects.update(status="finished")
    post_retry_job_create(account=world.account, expected_count=8)  # the credits left
    many = [measure(url) for url in urls()]
    assert (
        PostRetryItem.objects.filter(job=PostRetryJob.objects.order_by("-id").first()).count() == 8
    )
    assert many == one
