"""IngestKey now lives in accounts (accounts 0004 took over its table and rows): drop the
model from monitoring's state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0003_scrape_targets"),
        ("accounts", "0004_ingestkey_from_monitoring"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="IngestKey")]),
    ]
