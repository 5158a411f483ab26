"""Static files: WhiteNoise's compressed manifest storage, with each URL worked out once.

Every page asks for a dozen static URLs (stylesheets, scripts, the icon), and
the manifest storage works each one out afresh: split the name, look up its
hashed name, join it to STATIC_URL, about 50 µs apiece. The manifest is read
when the storage is made and stays the same while the process runs, so the
answer for a name does not change either; it is kept. Writing the manifest
again (collectstatic) forgets what was kept.
"""

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[tuple[str, bool, bool], str] = {}

    def url(self, name: str | None, force: bool = False) -> str:
        # DEBUG serves names unhashed, and tests switch it: it is part of the key.
        key = (name, force, settings.DEBUG)
        try:
            return self._urls[key]
        except (KeyError, TypeError):
            url = super().url(name, force)  # a missing file raises, and is not kept
            if name is not None:
                self._urls[key] = url
            return url

    def post_process(self, *args, **kwargs):
        self._urls.clear()
        yield from super().post_process(*args, **kwargs)
        self._urls.clear()
