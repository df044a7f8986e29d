"""Events get a public ``evt_…`` id unique across tenants and the workspaces they concern (the
feed's visibility, webhook workspace filters), lose ``published_at`` (webhook deliveries track
what was sent), and are indexed for id-ordered reads by type and for the 30-day purge.

Existing rows: a random id each, and the workspaces their payload names (``workspace_id``, a
transfer's two ends, a payment's invoice). Their payload keeps the shape it was recorded with.
"""

import django.contrib.postgres.fields
from django.db import migrations, models

import optiflow.models

# The outbox is a tenant table: these statements run in tenant schemas only
# (`tenants.routers.SchemaRouter` reads the hint).
EVENT = {"model_name": "event"}

BACKFILL = """
UPDATE optiflow_event SET
    public_id = 'evt_' || replace(gen_random_uuid()::text, '-', ''),
    workspace_ids = array_remove(ARRAY[
        coalesce(
            payload->>'workspace_id', payload->>'from_workspace_id',
            payload->'invoice'->>'workspace_id'
        )::bigint,
        (payload->>'to_workspace_id')::bigint
    ], NULL)
"""


class Migration(migrations.Migration):

    dependencies = [
        ('optiflow', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='public_id',
            field=models.CharField(editable=False, max_length=36, null=True),
        ),
        migrations.AddField(
            model_name='event',
            name='workspace_ids',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(), blank=True, default=list, size=None),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop, hints=EVENT),
        migrations.AlterField(
            model_name='event',
            name='public_id',
            field=models.CharField(default=optiflow.models.new_event_id, editable=False, max_length=36, unique=True),
        ),
        migrations.RemoveField(
            model_name='event',
            name='published_at',
        ),
        migrations.AlterField(
            model_name='event',
            name='type',
            field=models.CharField(max_length=64),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(fields=['type', 'id'], name='event_type_id_idx'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(fields=['created_at'], name='event_created_at_idx'),
        ),
    ]
