from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # The throttle cache lives in this table when there is no Redis
    # (settings.CACHES["throttle"]). Made whatever the configuration today, so
    # dropping REDIS_URL later needs no extra step; an existing table is kept.
    call_command(
        "createcachetable",
        "accounts_throttle_cache",
        database=schema_editor.connection.alias,
        verbosity=0,
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
