"""The closing check of ``make test``: in CI every backend and the browser must have run."""

from __future__ import annotations

import pytest

from tests.suite_guard import in_ci, missing_backends

FULL = {"browser", "postgresql", "redis", "sqlite"}


@pytest.mark.parametrize("lost", sorted(FULL))
def test_ci_fails_when_any_half_is_missing(lost):
    assert missing_backends(FULL - {lost}, configured=True, ci=True) == [lost]


def test_ci_without_services_configured_still_fails():
    # CI lost TEST_DATABASE_URL or REDIS_URL: only SQLite and the browser ran
    assert missing_backends({"sqlite", "browser"}, configured=False, ci=True) == [
        "postgresql",
        "redis",
    ]


def test_ci_with_everything_passes():
    assert missing_backends(FULL, configured=True, ci=True) == []


def test_local_partial_run_passes_without_services():
    assert missing_backends({"sqlite"}, configured=False, ci=False) == []


def test_local_run_fails_when_configured_services_went_unused():
    assert missing_backends({"sqlite"}, configured=True, ci=False) == ["postgresql", "redis"]
    assert missing_backends({"sqlite", "postgresql"}, configured=True, ci=False) == ["redis"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", False), ("0", False), ("false", False), ("1", True), ("true", True), ("yes", True)],
)
def test_ci_variable(value, expected):
    assert in_ci({"CI": value}) is expected
    assert in_ci({}) is False
