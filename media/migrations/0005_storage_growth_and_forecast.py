# How fast storage grew over the last 7 and 30 days, and the run of "full within a week".

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('media', '0004_library_follows_storage_figure'),
    ]

    operations = [
        migrations.AddField(
            model_name='storagesnapshot',
            name='forecast_since',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='storagesnapshot',
            name='grown_30d_bytes',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='storagesnapshot',
            name='grown_30d_figures',
            field=models.SmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='storagesnapshot',
            name='grown_30d_seconds',
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='storagesnapshot',
            name='grown_7d_bytes',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='storagesnapshot',
            name='grown_7d_figures',
            field=models.SmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='storagesnapshot',
            name='grown_7d_seconds',
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='storagesnapshot',
            name='growth_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
