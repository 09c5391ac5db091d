"""Pages that carry a POST form must let the browser send its `Origin` with it.

Under `Referrer-Policy: no-referrer` (header, `<meta name="referrer">` or `<form
rel="noreferrer">`) Chromium posts the page's own forms with `Origin: null`, and Django's
CSRF check answers 403. The Django test client sends no Origin at all, so only this sweep
(and the browser tests) notice. Pages whose URL holds a secret keep the site's
`same-origin`: the token never reaches another origin, and same-origin POSTs carry a real
Origin.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from tests.dashboard.url_matrix import Sample, all_routes, build_url, public_entry, registry

# Fetch: "serializing a request Origin" is `null` for a same-origin POST only under this one.
BLOCKING = {"no-referrer", "never"}  # `never`: the legacy <meta> spelling of no-referrer
POLICIES = {
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
}


class FormFinder(HTMLParser):
    """Counts POST forms and notes what would make their submission send `Origin: null`."""

    def __init__(self) -> None:
        super().__init__()
        self.post_forms = 0
        self.blockers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {key: (value or "").strip().lower() for key, value in attrs}
        if tag == "form" and names.get("method") == "post":
            self.post_forms += 1
            if "noreferrer" in names.get("rel", "").split():
                self.blockers.append('<form rel="noreferrer">')
        if tag == "meta" and names.get("name") == "referrer" and names.get("content") in BLOCKING:
            self.blockers.append(f'<meta name="referrer" content="{names["content"]}">')


def header_policy(value: str) -> str:
    """The policy a browser applies: the last token it knows (an unknown one is skipped)."""
    known = [token.strip().lower() for token in value.split(",") if token.strip()]
    known = [token for token in known if token in POLICIES]
    return known[-1] if known else ""


def post_forms(response) -> tuple[int, list[str]]:
    """How many POST forms the page has, and what would send them with `Origin: null`."""
    finder = FormFinder()
    finder.feed(response.content.decode())
    if not finder.post_forms:
        return 0, []
    blockers = list(finder.blockers)
    policy = header_policy(response.get("Referrer-Policy", ""))
    if policy in BLOCKING:
        blockers.append(f"Referrer-Policy: {policy}")
    return finder.post_forms, blockers


def origin_blockers(response) -> list[str]:
    return post_forms(response)[1]


def test_the_sweep_spots_every_way_of_sending_origin_null():
    class Page:
        def __init__(self, html: str, policy: str = "") -> None:
            self.content = html.encode()
            self.headers = {"Referrer-Policy": policy} if policy else {}

        def get(self, name: str, default: str = "") -> str:
            return self.headers.get(name, default)

    form = '<form method="post"><button>Go</button></form>'
    assert origin_blockers(Page(form, "no-referrer")) == ["Referrer-Policy: no-referrer"]
    assert origin_blockers(Page(form, "same-origin, no-referrer")) != []
    assert origin_blockers(Page(form, "no-referrer, same-origin")) == []
    assert origin_blockers(Page(form, "no-referrer, made-up")) != []
    assert origin_blockers(Page('<meta name="referrer" content="never">' + form)) != []
    assert origin_blockers(Page('<form method="POST" rel="noreferrer"></form>')) != []
    assert origin_blockers(Page("<p>no form here</p>", "no-referrer")) == []
    assert origin_blockers(Page('<form method="get"></form>', "no-referrer")) == []
    assert origin_blockers(Page(form, "same-origin")) == []


REGISTRY = registry()
PAGES = [route for route in all_routes() if route.namespace not in REGISTRY.excluded_namespaces]


@pytest.mark.django_db
def test_no_page_with_a_post_form_makes_the_browser_send_origin_null(
    workspace, other_workspace, admin, member, outsider, support, fake_upstream
):
    """Each page as its most capable viewer; public pages also to a stranger and to a
    signed-in person from another workspace (the invitation shows them other forms)."""
    cast = {
        "workspace": workspace,
        "other_workspace": other_workspace,
        "admin": admin,
        "member": member,
        "outsider": outsider,
        "support": support,
    }
    failures: list[str] = []
    with_forms: set[str] = set()
    for route in PAGES:
        public = public_entry(route, REGISTRY) is not None
        viewers = [None, outsider] if public else [support if route.access == "staff" else admin]
        for viewer in viewers:
            client = Client()
            if viewer is not None:
                client.force_login(viewer)
            url = build_url(route, REGISTRY, Sample(workspace, cast))
            response = client.get(url)
            if "text/html" not in response.get("Content-Type", ""):
                continue
            count, blockers = post_forms(response)
            if count:
                with_forms.add(route.name)
            who = viewer.get_username() if viewer is not None else "anonymous"
            failures += [f"{url} (as {who}): {blocker}" for blocker in blockers]
    assert not failures, "forms that would be posted with Origin: null:\n" + "\n".join(failures)
    # The sweep really looked at the forms people use before they belong to a workspace.
    assert {"login", "password_reset", "invitation_accept", "reconnect_link"} <= with_forms
