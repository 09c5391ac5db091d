"""Words for a person: what an upstream error means and what to do about it.

One table, keyed by family, with a few code-specific overrides. Pages, banners, alerts
and the diagnostic bundle all read from here instead of checking codes themselves. Our
words never replace upstream's: wherever a reason is shown, `reason_text` /
`upstream_said` keep upstream's own message beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

from socialapi import classify


@dataclass(frozen=True)
class Fix:
    title: str  # short label: "Reconnect required"
    meaning: str  # what happened, in plain words
    action: str  # what to do next
    temporary: bool = False  # goes away by itself; never flips an account's status


FAMILY_FIXES: dict[str, Fix] = {
    "api_key": Fix(
        "API key rejected",
        "SocialAPI rejected this workspace's API key: it is missing, invalid or was revoked.",
        "Paste a valid key in Settings. Background syncs are paused until a call succeeds.",
    ),
    "reconnect": Fix(
        "Reconnect required",
        "The account's login with the platform expired or was revoked, so SocialAPI can no "
        "longer post or read on its behalf.",
        "Press Reconnect and sign in to the platform again (or send the owner a reconnect link).",
    ),
    "credentials": Fix(
        "Credentials invalid",
        "The platform rejected the credentials stored for this account (API key or bot token).",
        "Update the credentials for this account; a browser sign-in will not fix it.",
    ),
    "storage_quota": Fix(
        "Storage full",
        "An upload would exceed the plan's media storage (the Free plan has 100 MB).",
        "Delete unused media on the Storage page, or upgrade to a paid plan for unlimited storage.",
    ),
    "monthly_limit": Fix(
        "Monthly limit reached",
        "The plan's monthly post or interaction allowance is used up.",
        "Wait for the allowance to reset at the end of the billing period, or upgrade the plan. "
        "Retrying now will not help.",
    ),
    "platform_throttle": Fix(
        "Platform throttling",
        "The platform itself (not SocialAPI) is limiting requests. This does not use your quota.",
        "Wait a few minutes; calls are retried with backoff.",
        temporary=True,
    ),
    "billing": Fix(
        "Billing past due",
        "SocialAPI has blocked API calls for this account until the subscription is paid.",
        "Update the payment method in the SocialAPI billing portal. Background syncs are paused.",
    ),
    "not_found": Fix(
        "Not found",
        "The account or resource no longer exists upstream.",
        "Nothing to do if it was removed on purpose; otherwise connect it again.",
    ),
    "conflict": Fix(
        "Conflict",
        "The request conflicts with the current state upstream.",
        "See the message for details; the item is usually in use or already linked elsewhere.",
    ),
    "not_supported": Fix(
        "Not supported on this platform",
        "The platform does not offer this operation. This is expected, not an incident.",
        "Nothing to do.",
    ),
    "validation": Fix(
        "Request rejected",
        "SocialAPI rejected a request as invalid (a missing or malformed field).",
        "If this came from your backend, check the field named in the error; if it came from "
        "the dashboard, report it with the request id.",
    ),
    "server": Fix(
        "SocialAPI error",
        "SocialAPI or the network failed to answer (5xx, timeout or connection error).",
        "Safe calls are retried automatically. If it persists, quote the request ids to "
        "SocialAPI support.",
        temporary=True,
    ),
    "unknown": Fix(
        "Unexpected error",
        "SocialAPI answered with an error the dashboard does not recognise.",
        "Quote the request id to SocialAPI support.",
    ),
}

CODE_FIXES: dict[str, Fix] = {
    "auth.state_mismatch": Fix(
        "Reconnect failed",
        "The sign-in came back with a state that belongs to another API key.",
        "Start the reconnect again from the Accounts page.",
    ),
    "account.already_linked": Fix(
        "Already connected",
        "This social account is already connected in another brand or workspace.",
        "Disconnect it there first, or keep using the account already connected.",
    ),
    "media.in_use": Fix(
        "Media in use",
        "The file is attached to a scheduled post, so SocialAPI refuses to delete it.",
        "Remove it from the post (or let the post publish) and try again.",
    ),
    "account.unsupported_platform": Fix(
        "Unsupported platform",
        "SocialAPI does not recognise this platform.",
        "Check the platform name sent by your backend.",
    ),
    "account.not_found": Fix(
        "Account gone",
        "The account is no longer connected upstream.",
        "Connect it again if it was not removed on purpose.",
    ),
    "platform.insights_scope_missing": Fix(
        "Reconnect to grant insights",
        "The account was connected before SocialAPI asked for the insights permission, so "
        "its statistics cannot be read.",
        "Press Reconnect and accept the insights permission (or send the owner a reconnect link).",
    ),
    "billing.platform_not_available": Fix(
        "Platform not in the plan",
        "The SocialAPI plan does not include this platform, so the connection was refused.",
        "Upgrade the plan in SocialAPI, or connect a platform the plan includes.",
    ),
    "billing.brands_limit": Fix(
        "Brand limit reached",
        "The SocialAPI plan allows no more brands, so the connection was refused.",
        "Remove a brand that is no longer used, or upgrade the plan.",
    ),
    "webhook_verification_failed": Fix(
        "Webhook URL not verified",
        "While registering the webhook, SocialAPI called its URL once (a test ping) and did "
        "not get a 2xx answer, so it registered nothing.",
        "Make sure SocialAPI can reach the dashboard at that address: SITE_URL must be the "
        "dashboard's public https address, and no proxy or firewall may refuse POSTs to "
        "/webhooks/. Then register again from Settings.",
    ),
    "platform.private_reply_ineligible": Fix(
        "Private reply not allowed",
        "The platform allows one private reply per comment, within 7 days of the comment.",
        "Reply publicly instead; the account itself is fine.",
    ),
    "platform.window_closed": Fix(
        "Messaging window closed",
        "The platform lets an account message someone only within 24 hours of their last message.",
        "Wait for the person to write again, then reply.",
    ),
    "platform.permission_denied": Fix(
        "Refused by the platform",
        "The platform refused this request for this account; the account stays connected.",
        "Check what the account is allowed to do on the platform, then try again.",
    ),
    "platform.page_cap": Fix(
        "Facebook Page limit reached",
        "A brand holds at most 5 Facebook Pages.",
        "Remove a Page from the brand, or connect this one in another brand.",
    ),
    "platform.230": Fix(
        "Not disclosed by Instagram",
        "Instagram shares this only for people who messaged the account first; it is not a “no”.",
        "Nothing to fix: it becomes available once the person messages the account.",
    ),
    "platform.media_required": Fix(
        "Media required",
        "The platform needs at least one image or video for this post.",
        "Attach media to the post and send it again.",
    ),
    "publishing.delivery.all_failed": Fix(
        "Post failed on every platform",
        "Every platform the post targeted refused it.",
        "See each target's error for its reason.",
    ),
    "post.not_found": Fix(
        "Post gone",
        "SocialAPI no longer has this post (it was deleted).",
        "Nothing to retry; create the post again if it is still wanted.",
    ),
    "post.state_invalid": Fix(
        "Post not failed any more",
        "The post is no longer failed (published, already re-queued or cancelled since), so "
        "SocialAPI did not retry it and used no credit.",
        "Nothing to do; check the post in SocialAPI if it should have gone out.",
    ),
    "post.no_retryable_deliveries": Fix(
        "Nothing left to retry",
        "None of the post's failed deliveries can be attempted again (their accounts are "
        "gone), so SocialAPI did not retry it.",
        "Connect the account again and create the post anew if it is still wanted.",
    ),
}

# The family each code-specific text was written for. A code whose family the platform
# changed (a "reconnect" code on an API-key platform is "credentials") takes its family's
# words: "Press Reconnect" would be wrong there.
_CODE_FAMILIES: dict[str, str] = {code: str(classify(code, None).family) for code in CODE_FIXES}


def fix_for(*, family: str, code: str = "") -> Fix:
    """The explanation for a code, falling back to its family, then to 'unknown'."""
    if code in CODE_FIXES and _CODE_FAMILIES[code] == family:
        return CODE_FIXES[code]
    return FAMILY_FIXES.get(family) or FAMILY_FIXES["unknown"]


def upstream_said(message: str, ours: str = "") -> str:
    """Upstream's own message, to show beside our words ("" when there is none, or when
    ours already say it)."""
    text = " ".join(message.split())
    if not text or text.lower() in ours.lower():
        return ""
    return f"SocialAPI said: “{text}”"


def reason_text(*, family: str, code: str, message: str = "") -> str:
    """Why something failed: what it means in our words, then upstream's own message."""
    meaning = fix_for(family=family, code=code).meaning
    return " ".join(part for part in (meaning, upstream_said(message, meaning)) if part)


# --- Banners ---------------------------------------------------------------------------
# One row per banner of the product spec: what happened (title), what it means, what to
# do, when it clears by itself, and the label of the button that fixes it. Placeholders
# are filled by events.banners; every value is plain text (templates escape it).


@dataclass(frozen=True)
class BannerText:
    title: str
    meaning: str
    action: str
    clears: str
    action_label: str


BANNER_TEXTS: dict[str, BannerText] = {
    "billing_past_due": BannerText(
        "Billing past due — all API calls are blocked",
        "SocialAPI refuses every call except account and billing pages until the "
        "subscription is paid{when}. Background syncs are paused.",
        "Update the payment method in the SocialAPI billing portal.",
        "Clears by itself when a later call succeeds.",
        "See the failed calls",
    ),
    "secrets_unreadable": BannerText(
        "Stored secrets cannot be decrypted — calls to SocialAPI are on hold",
        "The encryption keys changed: FIELD_ENCRYPTION_KEYS no longer holds the key this "
        "workspace's API key or webhook secret was saved with. Pages show the stored data, "
        "but checks, reconnects and syncs wait, and webhooks are refused (SocialAPI delivers "
        "them again for a few hours).",
        "Put the previous key back in FIELD_ENCRYPTION_KEYS (see “Rotating the encryption "
        "key” in the README), or paste the API key and webhook secret again in Settings.",
        "Clears when the stored secrets can be read again.",
        "Open Settings",
    ),
    "api_key_rejected": BannerText(
        "API key rejected — every call from this workspace fails",
        "SocialAPI says the workspace's API key is missing, invalid or revoked{when}. "
        "Background syncs are paused.",
        "Paste a valid key in Settings.",
        "Clears when a call with the current key succeeds.",
        "Update the API key",
    ),
    "api_key_missing": BannerText(
        "No API key yet — the dashboard cannot reach SocialAPI",
        "Accounts, storage and usage stay empty until a key is saved.",
        "Paste the workspace's SocialAPI key in Settings.",
        "Clears when a key is saved.",
        "Add the API key",
    ),
    "storage_full": BannerText(
        "Storage full — uploads fail",
        "{figure}. New uploads are refused until space is freed.",
        "Free at least {need} on the Storage page, or upgrade for unlimited storage.",
        "Clears when a newer storage figure is under the limit.",
        "Free up space",
    ),
    "storage_nearly_full": BannerText(
        "Storage {percent}% full — {left} left",
        "{used} of {limit} used. Uploads will fail once the limit is reached.{forecast}",
        "Delete media you no longer need on the Storage page.",
        "Clears when usage drops below 80%.",
        "Review storage",
    ),
    "storage_filling": BannerText(
        "Storage full in {days} at this rate",
        "It grew {grown} over the last {window} ({rate} a day, deletions left out); "
        "{left} of {limit} is left. Uploads will fail once the limit is reached.",
        "Delete media you no longer need on the Storage page, or upgrade for unlimited storage.",
        "Clears when storage would last more than {clear} days at the recent pace.",
        "Review storage",
    ),
    "monthly_limit": BannerText(
        "Monthly {allowance} limit reached — resets on {reset}",
        "The plan's monthly {allowance} allowance is used up{figure}, so SocialAPI refuses new "
        "{plural}. Retrying before the reset will not help.",
        "Wait for the reset, or upgrade the plan to continue now.",
        "Clears on {reset}, or as soon as usage shows room.",
        "See usage",
    ),
    "monthly_nearly_used": BannerText(
        "{percent}% of this month's {plural} used — {left} left until {reset}",
        "{used} of {limit} {plural} used on this plan. Once the allowance runs out, SocialAPI "
        "refuses new {plural} until it resets.",
        "Spread {plural} out, or upgrade the plan before the allowance runs out.",
        "Clears when the allowance resets on {reset}.",
        "See usage",
    ),
    "platform_throttle": BannerText(
        "{platform} is throttling requests; this does not use your quota; retrying after ~{retry}",
        "{platform} itself (not SocialAPI) is limiting how fast this workspace may call it; "
        "last refused {when}.",
        "Nothing to fix: calls are retried with backoff. Avoid bursts of posts to the same "
        "account.",
        "Clears as soon as {platform} answers a call again, or after {minutes} minutes "
        "without a new throttling error.",
        "See the errors",
    ),
    "accounts_reconnect": BannerText(
        "{count} need{verb} {need}",
        "{detail} Posts scheduled on them will fail until they are fixed.",
        "Reconnect them from the Accounts page, or send each owner a reconnect link.",
        "Clears when none are left.",
        "Show accounts",
    ),
    "server_errors": BannerText(
        "SocialAPI errors — {count} failed calls in the last {minutes} minutes",
        "SocialAPI is having trouble (server errors or no answer). This is not your configuration.",
        "Safe calls are retried automatically. If it lasts, quote the request ids below to "
        "SocialAPI support.",
        "Clears once calls succeed again with no new server error.",
        "See the errors",
    ),
}


def banner_text(kind: str, **values: object) -> BannerText:
    """The wording of one banner with its placeholders filled."""
    text = BANNER_TEXTS[kind]
    return BannerText(
        text.title.format(**values),
        text.meaning.format(**values),
        text.action.format(**values),
        text.clears.format(**values),
        text.action_label,
    )
