"""Our beat scheduler: django-celery-beat's DatabaseScheduler with its gaps closed.

Run beat with ``-S capitolscope.beat:DatabaseScheduler`` (the default in settings).
"""

from __future__ import annotations

from django_celery_beat import schedulers


class DatabaseScheduler(schedulers.DatabaseScheduler):
    def setup_schedule(self):
        super().setup_schedule()
        # Remember the change stamp the initial read saw, so the first change after start-up
        # is compared with it rather than with nothing.
        self._last_timestamp = self.Changes.last_change()

    def schedule_changed(self) -> bool:
        # Upstream compares ``ts > (last or ts)``: when beat starts on a database where no
        # schedule was ever saved, ``last`` is None and the first schedule an operator creates
        # is ignored until the 5-minute forced reload. A stamp appearing is a change.
        before = self._last_timestamp
        changed = super().schedule_changed()
        return changed or (before is None and self._last_timestamp is not None)
