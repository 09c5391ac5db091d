"""`manage.py secrets_rotate`: re-encrypt every stored secret with the first key.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it),
deploy, run this command, then remove the old keys. Safe to run again at any time: rows
already encrypted with the first key are left alone, and a row changed by the app while
the command runs is not overwritten.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from dashboard.crypto import (
    SecretDecryptionError,
    encrypted_fields,
    encrypted_with_first_key,
    rotate,
)


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted column of every model with the first FIELD_ENCRYPTION_KEYS key."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="rows per transaction (default 500)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would change, change nothing"
        )

    def handle(self, *args: Any, batch_size: int, dry_run: bool, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        totals = {"rotated": 0, "current": 0, "failed": 0}
        for model, field in encrypted_fields():
            counts = self._rotate_column(model, field, batch_size=batch_size, dry_run=dry_run)
            for key, value in counts.items():
                totals[key] += value
            label = f"{model._meta.label}.{field}"
            self.stdout.write(
                f"{label}: {counts['rotated']} {'to rotate' if dry_run else 'rotated'}, "
                f"{counts['current']} already current, {counts['failed']} undecryptable"
            )
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        self.stdout.write(
            f"{totals['rotated']} secrets {verb}; {totals['current']} already used the first key."
        )
        if totals["failed"]:
            raise CommandError(
                f"{totals['failed']} secrets cannot be decrypted with any configured key "
                "(listed above by row id). They were left unchanged: restore the key they were "
                "encrypted with, or ask "
                "their workspace admins to enter them again."
            )

    def _rotate_column(
        self, model: type[models.Model], field: str, *, batch_size: int, dry_run: bool
    ) -> dict[str, int]:
        counts = {"rotated": 0, "current": 0, "failed": 0}
        # Cast to a plain text column: the raw ciphertext, not the field's decrypted value.
        raw = Cast(F(field), output_field=TextField())
        rows = model._base_manager.exclude(**{f"{field}__isnull": True}).exclude(**{field: ""})
        last_pk: Any = None
        while True:
            batch = rows.order_by("pk")
            if last_pk is not None:
                batch = batch.filter(pk__gt=last_pk)
            chunk = list(
                batch.annotate(raw_secret=raw).values_list("pk", "raw_secret")[:batch_size]
            )
            if not chunk:
                return counts
            last_pk = chunk[-1][0]
            with transaction.atomic():
                for pk, ciphertext in chunk:
                    if encrypted_with_first_key(ciphertext):
                        counts["current"] += 1
                        continue
                    try:
                        fresh = rotate(ciphertext)
                    except SecretDecryptionError:
                        counts["failed"] += 1
                        self.stderr.write(
                            f"{model._meta.label}.{field} row {pk}: cannot be decrypted"
                        )
                        continue
                    counts["rotated"] += 1
                    if dry_run:
                        continue
                    # Only if unchanged since read; Value() bypasses the field's encryption.
                    model._base_manager.filter(Exact(raw, Value(ciphertext)), pk=pk).update(
                        **{field: Value(fresh, output_field=TextField())}
                    )
