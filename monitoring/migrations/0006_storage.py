import django.db.models.deletion
from django.db import migrations, models

CHUNK_TABLE = """
CREATE TABLE monitoring_chunk (
    series_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    first_ts timestamptz NOT NULL,
    last_ts timestamptz NOT NULL,
    count integer NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    sum double precision NOT NULL,
    first double precision NOT NULL,
    last double precision NOT NULL,
    timestamps bytea NOT NULL,
    "values" bytea NOT NULL,
    -- Every read is one series over a time range; compaction upserts on it.
    PRIMARY KEY (series_id, hour)
) PARTITION BY RANGE (hour);
-- Already compressed: PostgreSQL's own compression would only cost CPU (partitions inherit this).
ALTER TABLE monitoring_chunk ALTER COLUMN timestamps SET STORAGE EXTERNAL, ALTER COLUMN "values" SET STORAGE EXTERNAL;
-- Samples that arrive for a range past the hot window (late): merged into chunks by the next
-- compaction. Small: collectors never write here.
CREATE TABLE monitoring_sample_late (
    series_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NOT NULL,
    -- Reads take one series over a time range; a (series, ts) is stored once (first write wins).
    PRIMARY KEY (series_id, ts)
);
-- Compaction picks one hour of every series out of the raw table (the primary key leads by series).
CREATE INDEX monitoring_sample_ts_brin ON monitoring_sample USING brin (ts);
"""

# JSON {"p12": 3, "z": 1} → the binary form of lib.sketch (big-endian int32 (code, count) pairs).
SKETCH_TO_BINARY = """
ALTER TABLE {table} ADD COLUMN sketch_bin bytea NOT NULL DEFAULT ''::bytea;
UPDATE {table} SET sketch_bin = coalesce((
    SELECT string_agg(int4send(c.code) || int4send(kv.value::int), ''::bytea ORDER BY c.code)
    FROM jsonb_each_text(sketch) kv, LATERAL (SELECT CASE
        WHEN kv.key = 'z' THEN 0
        WHEN left(kv.key, 1) = 'p' THEN substring(kv.key FROM 2)::int + 50000
        ELSE -(substring(kv.key FROM 2)::int + 50000) END AS code) c
), ''::bytea);
ALTER TABLE {table} DROP COLUMN sketch;
ALTER TABLE {table} RENAME COLUMN sketch_bin TO sketch;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0005_printable_names"),
    ]

    operations = [
        migrations.CreateModel(
            name="Compaction",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("compacted_until", models.DateTimeField(blank=True, null=True)),
                ("last_run_at", models.DateTimeField(blank=True, null=True)),
                ("last_run_samples", models.BigIntegerField(default=0)),
                ("last_run_chunks", models.IntegerField(default=0)),
                ("last_run_seconds", models.FloatField(default=0.0)),
            ],
        ),
        migrations.CreateModel(
            name="Chunk",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "series", "hour", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("hour", models.DateTimeField()),
                ("first_ts", models.DateTimeField()),
                ("last_ts", models.DateTimeField()),
                ("count", models.IntegerField()),
                ("min", models.FloatField()),
                ("max", models.FloatField()),
                ("sum", models.FloatField()),
                ("first", models.FloatField()),
                ("last", models.FloatField()),
                ("timestamps", models.BinaryField()),
                ("values", models.BinaryField()),
                (
                    "series",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="monitoring.series",
                    ),
                ),
            ],
            options={"db_table": "monitoring_chunk", "managed": False},
        ),
        migrations.RunSQL(
            CHUNK_TABLE,
            "DROP TABLE monitoring_chunk; DROP TABLE monitoring_sample_late; DROP INDEX monitoring_sample_ts_brin;",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name=model, name="sketch", field=models.BinaryField(default=bytes))
                for model in ("rollup1m", "rollup1h")
            ],
            database_operations=[
                migrations.RunSQL(SKETCH_TO_BINARY.format(table=table), migrations.RunSQL.noop)
                for table in ("monitoring_rollup_1m", "monitoring_rollup_1h")
            ],
        ),
    ]
