from django.db import migrations

# PostgreSQL: the ranking tiers of search (oncall/runbooks/search.py) look up
# alert keys and tags by substring; trigram indexes keep that off a table scan.
# SQLite answers tags from its FTS5 table and scans the (small) alert keys.
FORWARD = [
    "CREATE INDEX runbooks_alertname_key_trgm ON runbooks_alertname USING gin (key gin_trgm_ops)",
    "CREATE INDEX runbooks_search_tags_trgm ON runbooks_searchdocument USING gin (tags gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS runbooks_search_tags_trgm",
    "DROP INDEX IF EXISTS runbooks_alertname_key_trgm",
]


def run_statements(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("runbooks", "0002_search_and_sync")]

    operations = [migrations.RunPython(run_statements(FORWARD), run_statements(BACKWARD))]
