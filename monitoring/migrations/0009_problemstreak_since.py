import django.utils.timezone
from django.db import migrations, models


def since_from_first_seen(apps, schema_editor):
    """Rows that exist already: the best known start is their current streak's."""
    ProblemStreak = apps.get_model("monitoring", "ProblemStreak")
    ProblemStreak.objects.update(since=models.F("first_seen_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0008_heartbeat_missed_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="problemstreak",
            name="since",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(since_from_first_seen, migrations.RunPython.noop),
    ]
