"""Django's Redis cache, with one redis-py client per connection pool instead of one per call.

Django's ``RedisCacheClient.get_client`` makes a new ``redis.Redis`` for every
cache operation. Making one fills a table of about 170 response callbacks,
which costs more than the round trip to Redis itself; a signed-in page reads
the cache twice (its session and its rendered page). A ``redis.Redis`` holds
no connection of its own: it takes one from its pool for each command, so
sharing it is what redis-py intends (it is thread-safe, and its pool opens new
connections in a forked worker). Storage, keys and serialisation are
Django's, unchanged.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _SharedClients(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _SharedClients
