from django.db import models


class Counter(models.Model):
    """Actions counted for one key in a window that opened with the first of them.

    The database's store for oncall/core/counters.py when there is no Redis:
    rate limits and sign-in throttling, shared by every process that shares
    the database. A row is deleted only after its window has ended.
    """

    key = models.CharField(primary_key=True, max_length=200)
    count = models.PositiveIntegerField()
    ends_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count} until {self.ends_at.isoformat()}"
