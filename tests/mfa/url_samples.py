"""The two-factor pages in the tenant-isolation matrix (tests/dashboard/url_matrix.py)."""

from __future__ import annotations

from tests.dashboard.url_matrix import Public
from tests.dashboard.url_samples import _status_in

PUBLIC_URLS = {
    "mfa:sign_in_code": Public(
        "the second sign-in step: only a session that just passed the password step (for "
        "5 minutes) gets its form; anyone else is sent to sign in",
        expect=_status_in({302}),
    ),
}
