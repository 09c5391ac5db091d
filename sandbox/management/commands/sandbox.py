"""`manage.py sandbox <subcommand>`: the control page's switches from a terminal."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox import services as s
from sandbox.checks import world_dialect
from sandbox.models import SandboxAccount
from sandbox.posts import post_fail, posts_due_publish
from sandbox.seed import sandbox_demo_seed
from sandbox.selectors import TenantFigures, tenant_find, tenants_overview
from socialapi.platforms import PLATFORMS, auth_kind

FAULT_OPTIONS = (  # option, dest, type
    ("--5xx-rate", "rate_5xx", float),
    ("--html-rate", "rate_html", float),
    ("--timeout-rate", "timeout_rate", float),
    ("--timeout-seconds", "timeout_seconds", int),
    ("--latency-ms", "latency_ms", int),
    ("--next-5xx", "next_5xx", int),
    ("--next-html", "next_html", int),
)


class Command(BaseCommand):
    """Subcommands mirror the control page; state changes go through sandbox.services."""

    help = "Drive the local SocialAPI sandbox: faults, broken accounts, quotas, dialect."

    def add_arguments(self, parser: CommandParser) -> None:
        """One subparser per subcommand, each taking --tenant."""
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")

        def command(name: str, text: str) -> argparse.ArgumentParser:
            """Add a subcommand with the common --tenant option."""
            p = sub.add_parser(name, help=text, description=text)
            p.add_argument("--tenant", help="tenant name or API key prefix (when several)")
            return p

        command("status", "Show tenants, their figures and switches.")
        command("reset", "Switch every fault off (faults, throttles, billing, revoked key).")
        p = command("expire-token", "Kill an OAuth account's token (reconnect required).")
        p.add_argument("account_id")
        p.add_argument("--reason", default=s.DEFAULT_REASON)
        p = command(
            "invalidate-credentials", "Make a telegram/whatsapp account's credentials fail."
        )
        p.add_argument("account_id", nargs="?", default="")
        p = command("remove-account", "Remove an account upstream (all pages removed).")
        p.add_argument("account_id")
        p = command("fill-storage", "Add media until storage reaches a percentage of the limit.")
        p.add_argument("percent", type=float)
        p = command("grow-storage", "Make storage grow by itself, MB a day (0 stops it).")
        p.add_argument("mb_per_day", type=float)
        command("exhaust-allowance", "Use up the monthly post allowance.")
        command("usage-reset", "Start a fresh billing period.")
        p = command("throttle", "Make a platform throttle account calls (429 + Retry-After).")
        p.add_argument("platform", help="a platform slug, or 'clear'")
        p.add_argument("--minutes", type=int, default=15)
        p = command("faults", "Set injected faults (rates are 0..1).")
        for option, dest, kind in FAULT_OPTIONS:
            p.add_argument(option, dest=dest, type=kind)
        p.add_argument("--scope", help='only calls under e.g. "DELETE /media"')
        p.add_argument("--seed", type=int, help="make the random draws repeatable")
        p.add_argument("--clear", action="store_true", help="switch every fault off first")
        p = command("dialect", "Answer in the current or the legacy dialect.")
        p.add_argument("dialect", choices=["current", "legacy"])
        p = command("list-end", 'End the last page of lists with next_cursor "" or none.')
        p.add_argument("list_end", choices=["empty", "missing"])
        p = sub.add_parser(
            "world-dialect",
            help="The dialect of calls with a missing or unknown key (no tenant).",
            description="The dialect of calls with a missing or unknown key (no tenant).",
        )
        p.add_argument("dialect", choices=["current", "legacy"])
        p = command("billing", "Block (past-due) or unblock (ok) every /v1 call but users/me.")
        p.add_argument("state", choices=["past-due", "ok"])
        p = command("key", "Revoke or restore the tenant's API key.")
        p.add_argument("state", choices=["revoke", "restore"])
        p = command("fail-post", "Fail a scheduled post and send post.failed/post.partial.")
        p.add_argument("post_id", nargs="?", default="")
        p.add_argument("--partial", action="store_true")
        command(
            "publish-due",
            "Publish the scheduled posts whose time has come (broken accounts fail).",
        )
        p = command("webhook", "Where the tenant's webhooks go (empty URL: nowhere).")
        p.add_argument("url")
        p.add_argument("secret", nargs="?", default="")
        p = command("create-tenant", "Create a bare tenant and print its API key.")
        p.add_argument("name")
        p.add_argument("--plan", default="free", choices=list(s.PLANS))
        p.add_argument("--dialect", default="current", choices=["current", "legacy"])
        p = command("seed-demo", "Create the demo tenant (idempotent) and print its API key.")
        p.add_argument("--name", default="Demo Co")
        p.add_argument("--webhook-url", default="")
        p.add_argument("--webhook-secret", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run `do_<subcommand>`; a SandboxError becomes a CommandError."""
        name = options["subcommand"].replace("-", "_")
        try:
            message = getattr(self, f"do_{name}")(options)
        except s.SandboxError as exc:
            raise CommandError(str(exc)) from exc
        if message:
            self.stdout.write(message)

    def _tenant(self, options: dict[str, Any]) -> Any:
        """The tenant named by --tenant (or the only one)."""
        return tenant_find(ref=options.get("tenant"))

    def do_status(self, options: dict[str, Any]) -> str:
        """Show tenants, their figures and switches."""
        rows = tenants_overview()
        if options.get("tenant"):
            wanted = tenant_find(ref=options["tenant"]).pk
            rows = [row for row in rows if row.tenant.pk == wanted]
        world = f"Calls without a valid key: {world_dialect()} dialect."
        blocks = [_describe(row) for row in rows] or ["No tenants yet."]
        return "\n\n".join([world, *blocks])

    def do_reset(self, options: dict[str, Any]) -> str:
        """Switch every fault off."""
        tenant = s.tenant_reset(tenant=self._tenant(options))
        return f"{tenant.name}: every switch is off."

    def do_expire_token(self, options: dict[str, Any]) -> str:
        """Kill an OAuth account's token."""
        account = s.account_token_expire(
            tenant=self._tenant(options), account_id=options["account_id"], reason=options["reason"]
        )
        return f"{account.id} ({account.platform}) now needs reconnecting."

    def do_invalidate_credentials(self, options: dict[str, Any]) -> str:
        """Make a credential account's credentials fail."""
        tenant = self._tenant(options)
        account_id = options["account_id"]
        if not account_id:
            candidates = SandboxAccount.objects.filter(
                tenant=tenant, removed_at__isnull=True, credentials_valid=True
            )
            found = next((a for a in candidates if auth_kind(a.platform) == "credentials"), None)
            if found is None:
                raise CommandError("No telegram/whatsapp account with valid credentials left.")
            account_id = found.id
        account = s.account_credentials_invalidate(tenant=tenant, account_id=account_id)
        return f"{account.id} ({account.platform}): credentials are now rejected."

    def do_remove_account(self, options: dict[str, Any]) -> str:
        """Remove an account upstream."""
        account = s.account_remove(tenant=self._tenant(options), account_id=options["account_id"])
        return f"{account.id} removed."

    def do_fill_storage(self, options: dict[str, Any]) -> str:
        """Add media up to a percentage of the limit."""
        added = s.storage_fill(tenant=self._tenant(options), percent=options["percent"])
        return f"Added {added} media files."

    def do_grow_storage(self, options: dict[str, Any]) -> str:
        """Make storage grow by itself."""
        tenant = s.storage_growth_set(
            tenant=self._tenant(options), mb_per_day=options["mb_per_day"]
        )
        if not tenant.storage_growth_bytes_per_day:
            return f"{tenant.name}: storage no longer grows by itself."
        return f"{tenant.name}: storage grows by {options['mb_per_day']:g} MB a day."

    def do_exhaust_allowance(self, options: dict[str, Any]) -> str:
        """Use up the monthly posts."""
        tenant = s.allowance_exhaust(tenant=self._tenant(options))
        return f"{tenant.name}: {tenant.posts_used}/{tenant.posts_limit} posts used."

    def do_usage_reset(self, options: dict[str, Any]) -> str:
        """Start a new billing period."""
        tenant = s.usage_reset(tenant=self._tenant(options))
        return f"{tenant.name}: a new billing period started."

    def do_throttle(self, options: dict[str, Any]) -> str:
        """Throttle a platform (or clear every throttle)."""
        tenant = self._tenant(options)
        if options["platform"] == "clear":
            s.throttles_clear(tenant=tenant)
            return "Platform throttles cleared."
        if options["platform"] not in PLATFORMS:
            raise CommandError(f"Unknown platform; use one of: {', '.join(PLATFORMS)} or clear.")
        s.platform_throttle(tenant=tenant, platform=options["platform"], minutes=options["minutes"])
        return f"{options['platform']} throttles for {options['minutes']} minutes."

    def do_faults(self, options: dict[str, Any]) -> str:
        """Set injected faults."""
        tenant = self._tenant(options)
        if options["clear"]:
            s.faults_clear(tenant=tenant)
        values = {dest: options[dest] for _, dest, _ in FAULT_OPTIONS}
        s.faults_set(tenant=tenant, scope=options["scope"], seed=options["seed"], **values)
        return _faults_text(tenant)

    def do_dialect(self, options: dict[str, Any]) -> str:
        """Switch the error dialect."""
        tenant = s.dialect_set(tenant=self._tenant(options), dialect=options["dialect"])
        return f"{tenant.name}: {tenant.dialect} dialect."

    def do_list_end(self, options: dict[str, Any]) -> str:
        """Switch how the last page of a list ends."""
        tenant = s.list_end_set(tenant=self._tenant(options), list_end=options["list_end"])
        ending = 'next_cursor ""' if tenant.list_end == "empty" else "no next_cursor"
        return f"{tenant.name}: the last page of a list has {ending}."

    def do_world_dialect(self, options: dict[str, Any]) -> str:
        """Switch the dialect of calls that belong to no tenant."""
        world = s.world_dialect_set(dialect=options["dialect"])
        return f"Calls without a valid key: {world.dialect} dialect."

    def do_billing(self, options: dict[str, Any]) -> str:
        """Block or unblock billing."""
        past_due = options["state"] == "past-due"
        tenant = s.billing_set(tenant=self._tenant(options), past_due=past_due)
        return f"{tenant.name}: billing {'past due' if past_due else 'ok'}."

    def do_key(self, options: dict[str, Any]) -> str:
        """Revoke or restore the API key."""
        revoked = options["state"] == "revoke"
        tenant = s.api_key_revoke(tenant=self._tenant(options), revoked=revoked)
        return f"{tenant.name}: API key {'revoked' if revoked else 'restored'}."

    def do_fail_post(self, options: dict[str, Any]) -> str:
        """Fail a scheduled post."""
        post = post_fail(
            tenant=self._tenant(options), post_id=options["post_id"], partial=options["partial"]
        )
        return f"{post.id} is now {post.status}."

    def do_publish_due(self, options: dict[str, Any]) -> str:
        """Publish the posts that are due (every tenant's, unless --tenant names one)."""
        tenant = self._tenant(options) if options.get("tenant") else None
        count = posts_due_publish(tenant=tenant)
        return f"{count} due post{'s' if count != 1 else ''} published or failed."

    def do_webhook(self, options: dict[str, Any]) -> str:
        """Set the webhook target."""
        tenant = s.webhook_configure(
            tenant=self._tenant(options), url=options["url"], secret=options["secret"]
        )
        return f"{tenant.name}: webhooks go to {tenant.webhook_url or 'nowhere'}."

    def do_create_tenant(self, options: dict[str, Any]) -> str:
        """Create a bare tenant."""
        tenant = s.sandbox_tenant_create(
            name=options["name"], plan=options["plan"], dialect=options["dialect"]
        )
        return f"{tenant.name}: {tenant.api_key}"

    def do_seed_demo(self, options: dict[str, Any]) -> str:
        """Create the demo tenant."""
        tenant = sandbox_demo_seed(
            name=options["name"],
            webhook_url=options["webhook_url"],
            webhook_secret=options["webhook_secret"],
        )
        return f"{tenant.name}: {tenant.api_key}"


def _faults_text(tenant: Any) -> str:
    """The fault switches on one line."""
    return (
        f"5xx {tenant.fault_5xx_rate:g}, html {tenant.fault_html_rate:g}, "
        f"timeout {tenant.fault_timeout_rate:g} ({tenant.fault_timeout_seconds}s), "
        f"latency {tenant.fault_latency_ms} ms, next 5xx {tenant.fault_next_5xx}, "
        f"next html {tenant.fault_next_html}, scope {tenant.fault_scope or 'all calls'}"
        + (f", seed {tenant.fault_seed}" if tenant.fault_seed is not None else "")
    )


def _describe(row: TenantFigures) -> str:
    """A tenant's status block."""
    t = row.tenant
    limit = "unlimited" if t.storage_limit_bytes < 0 else f"{t.storage_limit_bytes:,}"
    throttled = ", ".join(f"{p} until {u[:16]}" for p, u in row.throttles.items())
    lines = [
        f"{t.name} ({t.plan}, {t.dialect} dialect, lists end with "
        + ('next_cursor "")' if t.list_end == "empty" else "no next_cursor)")
        + f" key {t.api_key}"
        + (" [REVOKED]" if t.key_revoked else ""),
        f"  billing: {'PAST DUE' if t.billing_blocked else 'ok'}; "
        f"posts {t.posts_used}/{t.posts_limit}; storage {row.used_bytes:,} / {limit} bytes "
        f"in {row.media_count} files; {row.scheduled_posts} scheduled posts"
        + (
            f"; storage grows {t.storage_growth_mb_per_day:g} MB a day"
            if t.storage_growth_bytes_per_day
            else ""
        ),
        f"  faults: {_faults_text(t)}",
        f"  throttled: {throttled or 'none'}",
        f"  webhooks to: {t.webhook_url or 'nowhere'}",
    ]
    for account in row.accounts:
        state = account.status
        if not account.credentials_valid:
            state += " (credentials invalid)"
        lines.append(f"  {account.id}  {account.platform:<13} {account.username:<28} {state}")
    return "\n".join(lines)
