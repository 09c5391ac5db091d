from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0003_episodes_request_id_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="errorepisode",
            name="ended_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="errorepisode",
            name="probed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
