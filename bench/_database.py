"""A throw-away database for a benchmark run, on the configured engine.

SQLite: a file in a temporary folder. PostgreSQL (when DATABASE_URL points at
one): a fresh database on that server, dropped at the end. Either way the
benchmark never touches var/.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """Point DATABASE_URL and ONCALL_VAR_DIR at a new, empty store; yield the URL.

    Call before Django is set up: settings read the environment once.
    """
    import psycopg

    workdir = tempfile.mkdtemp(prefix=f"oncall-bench-{prefix}-")
    os.environ["ONCALL_VAR_DIR"] = workdir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oncall.settings")
    url = os.environ.get("DATABASE_URL", "")
    admin_url = name = None
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        name = f"oncall_bench_{prefix}_{os.getpid()}"
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(parts._replace(path=f"/{name}"))
    else:
        url = f"sqlite:///{workdir}/bench.sqlite3"
    os.environ["DATABASE_URL"] = url
    try:
        yield url
    finally:
        if admin_url is not None:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)
