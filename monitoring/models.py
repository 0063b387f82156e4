from django.db import models


class ManagedSchedule(models.Model):
    """What ``setup_schedules`` last wrote into a default PeriodicTask row.

    Comparing the row with this fingerprint tells an operator's edit (keep it) from a row we
    wrote and may upgrade (for example enable it once its task exists).
    """

    name = models.CharField(max_length=200, unique=True)
    fingerprint = models.CharField(max_length=64)
    applied_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name
