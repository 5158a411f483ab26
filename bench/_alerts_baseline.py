"""The benchmark's baseline: the app's WSGI application plus one minimal receiver view.

The minimal view does only what any receiver must: read the JSON and
bulk-insert one row per alert (same table, same unique key, conflicts
ignored). No token, no validation, no team routing, no runbook lookup, no
resolve handling. ``bench_alerts.py`` serves this module with gunicorn, so
both receivers run in the same processes, on the same database.
"""

import json
import os
from datetime import datetime

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oncall.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.decorators import login_not_required  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from oncall.alerts.models import AlertOccurrence  # noqa: E402
from oncall.urls import urlpatterns as app_urlpatterns  # noqa: E402

TEAM_ID = int(os.environ.get("BENCH_TEAM_ID", "1"))


@csrf_exempt
@login_not_required
def minimal_receiver(request):
    alerts = json.loads(request.body)["alerts"]
    rows = [
        AlertOccurrence(
            fingerprint=a["fingerprint"],
            starts_at=datetime.fromisoformat(a["startsAt"]),
            status=a["status"],
            team_id=TEAM_ID,
            alertname=a["labels"]["alertname"],
            alert_key=a["labels"]["alertname"].lower(),
            labels=a["labels"],
            annotations=a.get("annotations") or {},
        )
        for a in alerts
    ]
    AlertOccurrence.objects.bulk_create(rows, ignore_conflicts=True)
    return JsonResponse({"status": "ok", "alerts": len(rows)})


urlpatterns = [path("baseline/alertmanager/", minimal_receiver), *app_urlpatterns]
settings.ROOT_URLCONF = __name__
application = get_wsgi_application()
