"""The frozen clock: utcnow() inside frozen_now() is the given time, per thread, and audit
events carry the time they were recorded at, not the time of the flush."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from grants.core import audit
from grants.core.models import AuditEvent
from grants.core.types import frozen_now, utcnow
from grants.extensions import db

PAST = datetime(2017, 3, 1, 2, 0, tzinfo=UTC)


def test_frozen_now_returns_the_given_time_inside_and_the_real_time_after():
    with frozen_now(PAST):
        assert utcnow() == PAST
        assert utcnow() == PAST
    assert utcnow() - datetime.now(UTC) < timedelta(seconds=5)
    assert utcnow().year >= 2026


def test_frozen_now_nests_and_restores_the_outer_time():
    later = PAST + timedelta(days=40)
    with frozen_now(PAST):
        with frozen_now(later):
            assert utcnow() == later
        assert utcnow() == PAST


def test_frozen_now_restores_the_clock_after_an_exception():
    with pytest.raises(RuntimeError), frozen_now(PAST):
        raise RuntimeError("boom")
    assert utcnow().year >= 2026


def test_frozen_now_converts_to_utc_and_refuses_naive_times():
    beijing = timezone(timedelta(hours=8))
    with frozen_now(datetime(2017, 3, 1, 10, 0, tzinfo=beijing)):
        assert utcnow() == PAST
        assert utcnow().tzinfo == UTC
    with pytest.raises(ValueError, match="aware"), frozen_now(datetime(2017, 3, 1)):
        pass


def test_frozen_now_does_not_leak_into_other_threads():
    seen = []
    with frozen_now(PAST):
        thread = threading.Thread(target=lambda: seen.append(utcnow()))
        thread.start()
        thread.join()
    assert seen[0].year >= 2026


def test_audit_event_is_stamped_when_recorded_not_when_flushed(app):
    with frozen_now(PAST):
        entry = audit.record("test.clock")
    db.session.flush()
    stored = db.session.scalar(sa.select(AuditEvent.at).where(AuditEvent.id == entry.id))
    assert stored == PAST


def test_audit_event_outside_a_frozen_clock_is_stamped_now(app):
    entry = audit.record("test.clock")
    db.session.flush()
    assert abs(entry.at - datetime.now(UTC)) < timedelta(minutes=1)
