"""Hardened settings: `check --deploy` is clean in production; headers, cookies, CSP; every
page free of inline scripts and styles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.test import Client

from tests.dashboard.url_matrix import Sample, all_routes, build_url, public_entry, registry

ROOT = Path(django_settings.BASE_DIR)
NEW_FERNET_KEY = Fernet.generate_key().decode()
DEV_FERNET_KEY = django_settings.DEV_FIELD_ENCRYPTION_KEY


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "PYTEST_VERSION",
            "DEBUG",
            "SANDBOX_ENABLED",
            "SITE_URL",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
        )
    }
    env.update(
        DASHBOARD_ENV="production",
        SECRET_KEY="prod-" + "k8Tq2vXz" * 8,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="dashboard.example.com",
        CACHE_URL="redis://127.0.0.1:6379/9",  # never connected to by `check`
        VAR_DIR=str(tmp_path),
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_are_hardened(tmp_path):
    names = [
        "DEBUG",
        "SESSION_COOKIE_NAME",
        "CSRF_COOKIE_NAME",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_SAMESITE",
        "SESSION_COOKIE_HTTPONLY",
        "CSRF_COOKIE_HTTPONLY",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_SSL_REDIRECT",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "X_FRAME_OPTIONS",
        "SECURE_REFERRER_POLICY",
        "SITE_URL",
        "SANDBOX_ENABLED",
        "EMAIL_BACKEND",
    ]
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    )
    result = run(
        ["-c", code], production_env(tmp_path, DJANGO_SETTINGS_MODULE="dashboard.settings")
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert values["CSRF_COOKIE_NAME"].startswith("__Host-")
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax"  # the OAuth return is a cross-site navigation
    assert values["SESSION_COOKIE_HTTPONLY"] and values["CSRF_COOKIE_HTTPONLY"]
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["SECURE_SSL_REDIRECT"] and values["SECURE_CONTENT_TYPE_NOSNIFF"]
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert values["SITE_URL"] == "https://dashboard.example.com"
    assert values["SANDBOX_ENABLED"] is False
    assert values["EMAIL_BACKEND"].endswith("smtp.EmailBackend")


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS is required"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must list"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must list"),
        ({"SITE_URL": "http://dashboard.example.com"}, "SITE_URL must be an https"),
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"SANDBOX_ENABLED": "true"}, "sandbox must not be enabled"),
        ({"CACHE_URL": ""}, "CACHE_URL is required in production"),
        ({"SECRET_KEY": django_settings.DEV_SECRET_KEY}, "SECRET_KEY is the development key"),
        (
            {"FIELD_ENCRYPTION_KEYS": DEV_FERNET_KEY},
            "FIELD_ENCRYPTION_KEYS holds the development key",
        ),
        (
            {"FIELD_ENCRYPTION_KEYS": f"{NEW_FERNET_KEY},{DEV_FERNET_KEY}"},
            "FIELD_ENCRYPTION_KEYS holds the development key",
        ),
    ],
)
def test_production_refuses_to_start_with_unsafe_settings(tmp_path, overrides, complaint):
    for command in (["manage.py", "check"], ["manage.py", "check", "--deploy"]):
        result = run(command, production_env(tmp_path, **overrides))
        assert result.returncode != 0
        assert complaint in result.stderr


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"FIELD_ENCRYPTION_KEYS": f"{NEW_FERNET_KEY},{Fernet.generate_key().decode()}"},
        {"CACHE_URL": "redis://cache.internal:6379/1", "SECRET_KEY": "x" * 20 + "Qz9!" * 10},
    ],
    ids=["minimal", "two-keys", "remote-cache"],
)
def test_check_deploy_passes_with_each_safe_production_configuration(tmp_path, overrides):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production_env(tmp_path, **overrides),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_malformed_encryption_key_stops_the_check(tmp_path):
    result = run(["manage.py", "check"], production_env(tmp_path, FIELD_ENCRYPTION_KEYS="short"))
    assert result.returncode != 0
    assert "dashboard.E001" in result.stderr


@pytest.mark.django_db
def test_pages_send_the_security_headers(as_admin, workspace):
    response = as_admin.get(f"/w/{workspace.slug}/settings/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


class InlineFinder(HTMLParser):
    """Finds what the CSP would block: inline scripts, inline styles, event handlers, and
    assets loaded from another origin."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.problems.append("an inline <script>")
        if tag == "style":
            self.problems.append("a <style> block")
        if "style" in names:
            self.problems.append(f'a style="" attribute on <{tag}>')
        for name in names:
            if name.startswith("on"):
                self.problems.append(f"an inline {name}= handler on <{tag}>")
        for attr in ("src", "href"):
            value = names.get(attr) or ""
            if tag in ("script", "link", "img") and value.startswith(("http://", "https://", "//")):
                self.problems.append(f"<{tag} {attr}={value}> from another origin")


REGISTRY = registry()
PAGES = [
    route
    for route in all_routes()
    if route.namespace not in REGISTRY.excluded_namespaces and route.namespace != "sandbox"
]


@pytest.mark.django_db
@pytest.mark.parametrize("route", PAGES, ids=[route.name for route in PAGES])
def test_every_page_works_under_the_csp(
    route, workspace, other_workspace, admin, member, outsider, support, fake_upstream
):
    """Each page as its most capable viewer (support for staff pages, else the admin;
    anonymous for public pages): no inline script or style, no outside assets."""
    cast = {
        "workspace": workspace,
        "other_workspace": other_workspace,
        "admin": admin,
        "member": member,
        "outsider": outsider,
        "support": support,
    }
    client = Client()
    if public_entry(route, REGISTRY) is None:
        client.force_login(support if route.access == "staff" else admin)
    url = build_url(route, REGISTRY, Sample(workspace, cast))
    response = client.get(url)
    if response.status_code in (301, 302, 303, 405) or "text/html" not in response.get(
        "Content-Type", ""
    ):
        pytest.skip(
            f"not an HTML page on GET ({response.status_code} {response.get('Content-Type', '')})"
        )
    assert "Content-Security-Policy" in response
    finder = InlineFinder()
    finder.feed(response.content.decode())
    assert not finder.problems, f"{url}: " + "; ".join(sorted(set(finder.problems)))


def test_the_inline_finder_spots_what_the_csp_blocks():
    finder = InlineFinder()
    finder.feed(
        '<script>alert(1)</script><script src="/static/x.js"></script>'
        '<p style="color:red" onclick="x()">'
        '<img src="https://cdn.example/x.png"><style>p{}</style>'
    )
    assert sorted(finder.problems) == sorted(
        [
            "an inline <script>",
            'a style="" attribute on <p>',
            "an inline onclick= handler on <p>",
            "<img src=https://cdn.example/x.png> from another origin",
            "a <style> block",
        ]
    )
