# The status column takes the jobs' one enum (after 0002 moved the values; its own transaction on PostgreSQL).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('coaching', '0002_suggestion_run_on_job_framework'),
    ]

    operations = [
        migrations.AlterField(
            model_name='suggestionrun',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='queued', max_length=10, verbose_name='status'),
        ),
    ]
