from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0003_trade_fk_indexes_covered"),
    ]

    operations = [
        migrations.AddField(
            model_name="politician",
            name="chambers_served",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
    ]
