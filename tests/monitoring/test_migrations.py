"""Data migrations of monitoring, run forward on rows made with the historical models."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.migrating import migrate, migrate_to_latest

BEFORE = [("monitoring", "0008_heartbeat_missed_at")]
AFTER = [("monitoring", "0009_problemstreak_since")]


@pytest.mark.django_db(transaction=True)
def test_existing_problem_streaks_start_their_episode_at_their_streak():
    first_seen = dt.datetime(2026, 11, 20, 8, 15, tzinfo=dt.UTC)
    apps = migrate(BEFORE)
    try:
        ProblemStreak = apps.get_model("monitoring", "ProblemStreak")
        streak = ProblemStreak.objects.create(
            kind="memory", subject="", failing=True, runs=2, history=0b101,
            first_seen_at=first_seen, last_seen_at=first_seen + dt.timedelta(minutes=10),
        )  # fmt: skip

        apps = migrate(AFTER)

        ProblemStreak = apps.get_model("monitoring", "ProblemStreak")
        assert ProblemStreak.objects.get(pk=streak.pk).since == first_seen
    finally:
        migrate_to_latest()
