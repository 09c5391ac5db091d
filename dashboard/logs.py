"""Logging filters on the console handler (see LOGGING in settings): what reaches a log
line never holds a live token, and a refused request is one line, not a traceback."""

from __future__ import annotations

import logging
import re

# Paths whose segments after the prefix are secrets: reconnect links, invitations,
# password reset links (`/password-reset/<uidb64>/<token>/`). Django logs the path of
# every 4xx ("Not Found: /r/<token>/"); tests/dashboard/test_logs.py checks that every
# route with a token in its URL is covered here.
SECRET_PATH_PREFIXES = ("/r/", "/invitations/", "/password-reset/")
REDACTED = "[redacted]"
_SECRET_PATHS = re.compile(
    "(" + "|".join(re.escape(p) for p in SECRET_PATH_PREFIXES) + r")[^\s?#\"'<>]+"
)


def secret_paths_redact(text: str) -> str:
    """`text` with the secret part of every reconnect, invitation and reset path replaced."""
    return _SECRET_PATHS.sub(lambda m: m.group(1) + REDACTED, text)


class SecretPathFilter(logging.Filter):
    """Rewrites each record's message (and traceback) without secret path segments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = secret_paths_redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = secret_paths_redact(
                logging.Formatter().formatException(record.exc_info)
            )
        return True


class ClientErrorFilter(logging.Filter):
    """A 4xx is the answer to a request, not a fault of ours: Django logs a refused
    permission with its traceback; keep the one line that says what was refused."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.name.startswith("django.") and isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
