"""The app as gunicorn serves it, plus one trivial signed-in page for the page benchmark.

``/bench/shell/`` renders the site's shell (base template, its context
processors, the navigation) around an empty page, through the same middleware
as every other page: the floor a signed-in page cannot go below.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oncall.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.template import engines  # noqa: E402
from django.urls import path  # noqa: E402

from oncall import urls  # noqa: E402

SHELL = engines["django"].from_string(
    '{% extends "base.html" %}{% block content %}<h1>Shell</h1>{% endblock %}'
)


def shell(request: HttpRequest) -> HttpResponse:
    return HttpResponse(SHELL.render({}, request))


urls.urlpatterns.insert(0, path("bench/shell/", shell, name="bench-shell"))
