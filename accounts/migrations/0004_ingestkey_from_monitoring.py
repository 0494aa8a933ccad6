"""IngestKey moves from monitoring to accounts with its rows: the model's state is created
here over the existing table, which is then renamed; monitoring 0004 drops the old state.
Its content type moves too, so permissions and admin history follow the model."""

from django.db import migrations, models


def move_content_type(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="accounts", model="ingestkey").exists():
        content_type.objects.filter(app_label="monitoring", model="ingestkey").update(app_label="accounts")


def restore_content_type(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="monitoring", model="ingestkey").exists():
        content_type.objects.filter(app_label="accounts", model="ingestkey").update(app_label="monitoring")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_apitoken_expires_at"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("monitoring", "0003_scrape_targets"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IngestKey",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "name",
                            models.CharField(help_text="The source that uses this key.", max_length=100, unique=True),
                        ),
                        ("key_hash", models.CharField(editable=False, max_length=64, unique=True)),
                        ("prefix", models.CharField(editable=False, max_length=12)),
                        ("is_active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"ordering": ["name"], "db_table": "monitoring_ingestkey"},
                ),
            ],
            database_operations=[],
        ),
        # The default table name from now on: monitoring_ingestkey → accounts_ingestkey.
        migrations.AlterModelTable(name="ingestkey", table=None),
        migrations.RunPython(move_content_type, restore_content_type),
    ]
