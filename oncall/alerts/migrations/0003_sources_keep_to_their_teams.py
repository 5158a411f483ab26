"""Occurrences keyed per source, and the teams a source may also file for.

The new key (source, fingerprint, startsAt) is wider than the old
(fingerprint, startsAt), so every stored row already satisfies it: the rows
are kept as they are. It is added before the old one goes, so no moment is
without a key.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_translated_labels"),
        ("teams", "0004_translated_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertsource",
            name="other_teams",
            field=models.ManyToManyField(
                blank=True,
                help_text=(
                    "Teams whose slug this source's alerts may name in a team label; "
                    "any other team label is ignored."
                ),
                related_name="guest_alert_sources",
                to="teams.team",
                verbose_name="may also file for",
            ),
        ),
        migrations.AddConstraint(
            model_name="alertoccurrence",
            constraint=models.UniqueConstraint(
                fields=("source", "fingerprint", "starts_at"),
                name="alertoccurrence_unique_source_fingerprint_start",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="alertoccurrence",
            name="alertoccurrence_unique_fingerprint_start",
        ),
    ]
