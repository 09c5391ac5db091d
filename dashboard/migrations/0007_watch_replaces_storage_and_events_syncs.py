"""The watch (storage figure + upstream events log, every few seconds) replaces the
storage snapshot and events syncs, which ran every 15 and 5 minutes."""

from django.conf import settings
from django.db import migrations, models

import dashboard.models


def watch_default(apps, schema_editor):
    # The old column counted minutes: every workspace starts on the new default.
    Workspace = apps.get_model("dashboard", "Workspace")
    Workspace.objects.update(watch_seconds=settings.WATCH_SECONDS, watch_enqueued_at=None)


class Migration(migrations.Migration):

    dependencies = [
        ("dashboard", "0006_workspace_mfa_required"),
    ]

    operations = [
        migrations.RenameField(
            model_name="workspace", old_name="storage_sync_minutes", new_name="watch_seconds"
        ),
        migrations.AlterField(
            model_name="workspace",
            name="watch_seconds",
            field=models.PositiveIntegerField(default=dashboard.models.default_watch_seconds),
        ),
        migrations.RenameField(
            model_name="workspace", old_name="storage_enqueued_at", new_name="watch_enqueued_at"
        ),
        migrations.RemoveField(model_name="workspace", name="events_enqueued_at"),
        migrations.RunPython(watch_default, migrations.RunPython.noop),
    ]
