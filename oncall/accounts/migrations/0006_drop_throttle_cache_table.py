"""Sign-in throttling counts in ``core.Counter`` now (oncall/core/counters.py).

Django's database cache table ``accounts_throttle_cache`` held the counts when
there was no Redis; culling at 300 entries lifted blocks that were still live.
Nothing reads the table any more: it is dropped, and made again when going back.
"""

from django.core.management import call_command
from django.db import migrations

TABLE = "accounts_throttle_cache"


def drop_table(apps, schema_editor) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.connection.ops.quote_name(TABLE)}")


def make_table(apps, schema_editor) -> None:
    call_command("createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_sessions_with_user"), ("core", "0001_counters")]

    operations = [migrations.RunPython(drop_table, make_table)]
