"""Every code of the table, in both dialects, through a real client call (respx over HTTP).

test_errors.py proves the table on bodies; this proves the client applies it to what
comes back on the wire: the raised class, the family, the request id and the hook.
"""

from __future__ import annotations

import pytest

from socialapi import SocialAPIError
from socialapi.errors import FAMILY_CLASSES
from tests.socialapi.test_errors import CURRENT_CODES, SEED_CODES, current_body, legacy_body

CASES = [
    (raw, status, message, code, family) for raw, status, message, code, family, _ in SEED_CODES
] + [(raw, status, "", code, family) for raw, status, code, family, _ in CURRENT_CODES]


@pytest.mark.parametrize(("raw", "status", "message", "code", "family"), CASES)
@pytest.mark.parametrize("build", [legacy_body, current_body], ids=["legacy", "current"])
def test_a_failed_call_raises_the_family_of_its_code(
    make_client, router, recorder, build, raw, status, message, code, family
):
    # A POST is never retried on these answers, so each case is exactly one call.
    router.post("/webhooks").respond(
        status, content=build(raw, message), headers={"X-Request-ID": "hdr_req_1"}
    )
    api = make_client(max_attempts=1)

    with pytest.raises(SocialAPIError) as caught:
        api.webhooks_create("https://example.com/hook", ["post.failed"])

    error = caught.value
    assert isinstance(error, FAMILY_CLASSES[family])
    assert (error.status, error.code, str(error.family)) == (status, code, family)
    assert error.request_id in ("a1b2c3d4", "hdr_req_1")
    assert (error.method, error.endpoint) == ("POST", "/webhooks")
    assert recorder.errors == [error]
    assert len(router.calls) == 1
