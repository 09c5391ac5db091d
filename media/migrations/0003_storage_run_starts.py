# Where the current run of storage figures over 80 % / over the limit started.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("media", "0002_library_summary_counters_and_claims"),
    ]

    operations = [
        migrations.AddField(
            model_name="storagesnapshot",
            name="warn_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="storagesnapshot",
            name="full_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
