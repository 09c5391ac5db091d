from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("media", "0003_storage_run_starts"),
    ]

    operations = [
        migrations.AddField(
            model_name="medialibrary",
            name="snapshot_failed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="medialibrary",
            name="snapshot_error_code",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="medialibrary",
            name="snapshot_error_request_id",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="medialibrary",
            name="resync_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="medialibrary",
            name="resync_figure",
            field=models.CharField(blank=True, max_length=60),
        ),
        migrations.AddField(
            model_name="storagesnapshot",
            name="first_bytes",
            field=models.BigIntegerField(blank=True, null=True),
        ),
    ]
