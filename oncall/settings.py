"""Settings for oncall, one module for every machine.

Everything that differs between a laptop and production comes from the
environment (see the table in README.md). A wrong value stops start-up with
``ImproperlyConfigured`` naming the variable; ``manage.py`` prints it as one line.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ONCALL_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name).lower()
    if value == "":
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true or false")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value == "":
        return ""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise ImproperlyConfigured(f"{name} is not a valid URL: {e}") from None
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        expected = " or ".join(f"{s}://…" for s in schemes)
        raise ImproperlyConfigured(f"{name}={value!r} is not a valid URL: expected {expected}")
    return value


def env_time_zone(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not an IANA time zone (for example Europe/London)"
        ) from None
    return value


def env_issuer(name: str) -> str:
    """An OpenID Connect issuer: https, or http on loopback only (a provider on a laptop)."""
    value = env_url(name, "", ("https", "http")).rstrip("/")
    if value.startswith("http://") and urlsplit(value).hostname not in (
        "127.0.0.1",
        "localhost",
        "::1",
    ):
        raise ImproperlyConfigured(
            f"{name}={value!r} must use https:// (plain http is allowed on loopback only)"
        )
    return value


def env_team_groups(name: str) -> list[tuple[str, str, str]]:
    """``team[:role]=group`` pairs, comma-separated: [(team slug, role, group)]."""
    pairs = []
    for item in env_list(name, []):
        target, sep, group = item.partition("=")
        team, _colon, role = target.strip().partition(":")
        role = role.strip() or "member"
        if not sep or not team.strip() or not group.strip() or role not in ("member", "lead"):
            raise ImproperlyConfigured(
                f"{name} holds {item!r}: write team=group or team:lead=group "
                "(for example payments=oncall-payments,payments:lead=oncall-payments-leads)"
            )
        pairs.append((team.strip(), role, group.strip()))
    return pairs


def database_from_url(name: str) -> dict:
    value = env_url(name, "", ("postgres", "postgresql", "sqlite"))
    if not value:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "oncall.sqlite3",
        }
    config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Only the cursors of oncall/teams/rows.py prepare their statements
        # (Django's client-side binding never does); see docs/deploy.md.
        config.setdefault("OPTIONS", {})["prepare_threshold"] = 0
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={value!r} names no database")
    return config


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    # A laptop gets a key generated once and kept, so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

# Links in emails and calendar feeds point where the app runs: SITE_URL when
# set, else the loopback address `make run` serves on ($PORT, 8000 by default).
PORT = env_int("PORT", 8000)
if not 1 <= PORT <= 65535:
    raise ImproperlyConfigured(f"PORT={PORT} is not a TCP port (1 to 65535)")
SITE_URL = env_url("SITE_URL", f"http://127.0.0.1:{PORT}", ("http", "https")).rstrip("/")
_site_host = urlsplit(SITE_URL).hostname or "127.0.0.1"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [_site_host, "127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS holds {_origin!r}: each origin starts with http:// or https://"
        )

RUNBOOKS_DIR = Path(env_str("RUNBOOKS_DIR", str(BASE_DIR / "runbooks")))
# Extra python-markdown extensions (``module:Class``) the renderer process loads
# after its own. None in production; the tests and benchmarks name one that makes
# a render as slow as they say, to test the render time limit by construction.
RUNBOOK_MARKDOWN_EXTENSIONS: list[str] = []
TIME_ZONE = env_time_zone("TIME_ZONE", "UTC")
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ja", _("Japanese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "oncall.core",
    "oncall.teams",
    "oncall.runbooks",
    "oncall.shifts",
    "oncall.rotations",
    "oncall.alerts",
    "oncall.drills",
    "oncall.readiness",
    "oncall.reminders",
    "oncall.metrics",
    "oncall.accounts",
]

MIDDLEWARE = [
    # Probes first: /healthz answers whatever Host a load balancer sends.
    "oncall.teams.health.HealthzMiddleware",
    "oncall.metrics.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, given the user its session was read with.
    "oncall.accounts.middleware.AuthenticationMiddleware",
    # Signed-in HTML that says nothing about caching: Cache-Control: private, no-store.
    "oncall.core.cache_control.private_by_default",
    # A signed-in person's profile language over LocaleMiddleware's guess.
    "oncall.teams.language.profile_language",
    # Every page needs a signed-in user unless its view says otherwise
    # (@login_not_required: healthz, sign-in, calendar feeds).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "oncall.accounts.middleware.rolling_session",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # django-htmx's request.htmx, adding Vary for the HX-* headers a view read.
    "oncall.teams.htmx.HtmxVaryMiddleware",
]

ROOT_URLCONF = "oncall.urls"
WSGI_APPLICATION = "oncall.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oncall.teams.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": database_from_url("DATABASE_URL")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers go on while one
    # writes, IMMEDIATE takes the write lock up front instead of failing late.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", "", ("redis", "rediss"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "oncall.teams.redis_cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Each worker keeps the runbook pages it served last (runbooks/views.py,
# _reader_page), about 15 KB each, in front of Redis; without Redis the default
# cache is that memory already.
CACHES["pages"] = (
    {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "reader-pages",
        "OPTIONS": {"MAX_ENTRIES": 400},
    }
    if REDIS_URL
    else CACHES["default"]
)
# Sign-in throttling and rate limits count across every worker and machine:
# in Redis when there is one, otherwise in a table of the database they all
# share (oncall/core/counters.py).
THROTTLE_WINDOW = 15 * 60

# Celery (read by oncall/celery.py through the CELERY_ namespace).
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    # kombu expects the folders to exist; a worker started by hand on a fresh
    # checkout would otherwise fail on start-up.
    for _folder in ("queue", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Bounded retries for every task unless it says otherwise.
CELERY_TASK_ANNOTATIONS = {"*": {"max_retries": 5, "default_retry_delay": 30}}

# Email: SMTP when EMAIL_HOST is set, otherwise each message is saved under var/mail/
# and the log names it (oncall/teams/devmail.py).
_email_host = env_str("EMAIL_HOST")
if _email_host:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": env_int("EMAIL_PORT", 25),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", False),
                "timeout": 10,
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "oncall.teams.devmail.EmailBackend",
            "OPTIONS": {"folder": str(VAR_DIR / "mail")},
        }
    }
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "oncall <oncall@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# GET /metrics answers a scraper sending "Authorization: Bearer <METRICS_TOKEN>";
# unset, /metrics is 404.
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured(
        "METRICS_TOKEN is too short: use at least 16 random characters "
        "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )

# Webhooks to loopback, link-local or private addresses are refused unless the
# operator allows them (a webhook relay inside the company network).
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)

# Rotation feeds (the same WEBHOOKS_ALLOW_PRIVATE switch applies): each feed is
# read again once ROTATIONS_POLL_MINUTES have passed; beat looks for feeds due
# every ROTATIONS_TICK_SECONDS.
ROTATIONS_POLL_MINUTES = env_int("ROTATIONS_POLL_MINUTES", 15)
ROTATIONS_TICK_SECONDS = env_int("ROTATIONS_TICK_SECONDS", 60)
if ROTATIONS_POLL_MINUTES < 0 or ROTATIONS_TICK_SECONDS < 1:
    raise ImproperlyConfigured(
        "ROTATIONS_POLL_MINUTES must be 0 or more and ROTATIONS_TICK_SECONDS 1 or more"
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Sign-in through the company's identity provider (OpenID Connect); see docs/sso.md.
AUTHENTICATION_BACKENDS = [
    "oncall.accounts.backends.PasswordBackend",
    "oncall.accounts.oidc.Backend",
]
LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)
OIDC_ISSUER = env_issuer("OIDC_ISSUER")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_TEAM_GROUPS = env_team_groups("OIDC_TEAM_GROUPS")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")
if OIDC_ISSUER and not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
    raise ImproperlyConfigured(
        "OIDC_ISSUER is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are needed too"
    )
if OIDC_ISSUER and "openid" not in OIDC_SCOPES.split():
    raise ImproperlyConfigured(f"OIDC_SCOPES={OIDC_SCOPES!r} must include openid")
if not OIDC_ISSUER and not LOCAL_LOGIN:
    raise ImproperlyConfigured(
        "LOCAL_LOGIN=false leaves no way to sign in: set OIDC_ISSUER (and its client) too"
    )
# A kept session ("keep me signed in on this device") lasts 30 days from the
# last visit; any other lasts until the browser closes, and on the server 12
# hours from the last visit. A session nobody is signed in to (a single
# sign-on under way) lasts 10 minutes. oncall/accounts/sessions.py applies them.
SESSION_COOKIE_AGE = 30 * 24 * 60 * 60
SESSION_NOT_KEPT_AGE = 12 * 60 * 60
SESSION_SIGNED_OUT_AGE = 10 * 60
# Every signed-in request reads its session and its user: one statement
# reads both (oncall/accounts/sessions.py). docs/deploy.md weighs the choices.
SESSION_ENGINE = "oncall.accounts.sessions"

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "oncall.teams.staticfiles.StaticFilesStorage"},
}

# Security. With DEBUG off the site is served over HTTPS only.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes and scrapes from inside the network may come over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# Behind a TLS-terminating proxy (nginx, a load balancer) that sets
# X-Forwarded-Proto, BEHIND_TLS_PROXY=true makes Django trust it; without it,
# SECURE_SSL_REDIRECT would redirect forever. The proxy must also append the
# client's address to X-Forwarded-For: rate limits and sign-in throttling
# count the last entry (oncall/core/addresses.py, docs/deploy.md).
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    # Progress bars and calendar blocks size themselves with style attributes.
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Request logs name the path, and a calendar feed's path holds its token.
    "filters": {"calendar_tokens": {"()": "oncall.teams.redact.RedactCalendarTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["calendar_tokens"]},
        "django.server": {"filters": ["calendar_tokens"]},
        # Beat sends the drills replay every second: a line for each would bury
        # everything else it says. Warnings and errors still show.
        "celery.beat": {"level": "WARNING"},
    },
}
