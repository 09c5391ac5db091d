"""`manage.py mfa_reset USERNAME`: remove a person's two-factor sign-in (audited).

For the person who lost their phone and their recovery codes. Check who is asking first:
afterwards their password alone signs them in, and a workspace that requires two-factor
sign-in sends them to set it up again.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from mfa.services import two_factor_reset

# Who the audit log names for this command (there is no signed-in person).
ACTOR = "manage.py mfa_reset"


class Command(BaseCommand):
    help = "Remove a person's authenticator app and recovery codes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No person is called {username!r}.")
        if two_factor_reset(user=user, operator=ACTOR):
            self.stdout.write(
                f"Two-factor sign-in removed for {username}: their password alone signs them in "
                "until they set it up again."
            )
        else:
            self.stdout.write(f"{username} had no two-factor sign-in: nothing changed.")
