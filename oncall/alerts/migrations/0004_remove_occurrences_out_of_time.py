"""Remove occurrences stored with a time outside the years 2000 to 2999.

Before the receiver bounded times, it stored whatever ``startsAt`` and
``endsAt`` it was sent: a start in the year 9999 then broke the coverage page
(a 500 for every reader east of UTC, whose local time is past the last year a
date can hold) and would break any other page or message that shows the time
in a reader's zone. Such a row cannot come from Prometheus, which stamps an
alert with the time its rule began to fire; the receiver now refuses it.

Removing is the choice over clamping: a clamped time is one the alert never
had and could collide with another row's key; and over code that tolerates
the rows: every page, email and the admin that formats an occurrence's time
would have to defend against them forever. Rows within the bounds but ahead
of the clock are kept; the coverage page counts only what fired up to a day
ahead of now.
"""

from datetime import UTC, datetime

from django.db import migrations
from django.db.models import Q

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)


def remove_out_of_time(apps, schema_editor) -> None:
    occurrence = apps.get_model("alerts", "AlertOccurrence")
    out_of_time = (
        Q(starts_at__lt=EARLIEST)
        | Q(starts_at__gt=LATEST)
        | Q(ends_at__lt=EARLIEST)
        | Q(ends_at__gt=LATEST)
    )
    occurrence.objects.filter(out_of_time).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0003_sources_keep_to_their_teams")]

    operations = [
        # Nothing to put back: the rows removed were ones the receiver now refuses.
        migrations.RunPython(remove_out_of_time, migrations.RunPython.noop, elidable=True),
    ]
