# Banner cause starts (ErrorEpisode) and the request-id index that also serves the events
# sync's dedupe on (workspace, request id).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0003_workspace_last_support_view"),
        ("events", "0002_triage_banners_sync"),
    ]

    operations = [
        migrations.CreateModel(
            name="ErrorEpisode",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("family", models.CharField(max_length=30)),
                ("platform", models.CharField(blank=True, max_length=40)),
                ("started_at", models.DateTimeField()),
                ("last_seen", models.DateTimeField()),
                (
                    "workspace",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="dashboard.workspace",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("workspace", "family", "platform"), name="episode_unique"
                    )
                ],
            },
        ),
        migrations.RemoveIndex(
            model_name="errorevent",
            name="event_request_id",
        ),
        migrations.AddIndex(
            model_name="errorevent",
            index=models.Index(fields=["request_id", "workspace"], name="event_request_ws"),
        ),
    ]
