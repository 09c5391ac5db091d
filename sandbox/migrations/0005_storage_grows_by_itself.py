# Storage that grows by itself at a pace (the control page's "Grow storage").

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sandbox', '0004_post_retry_count'),
    ]

    operations = [
        migrations.AddField(
            model_name='sandboxtenant',
            name='storage_grown_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='sandboxtenant',
            name='storage_growth_bytes_per_day',
            field=models.BigIntegerField(default=0),
        ),
    ]
