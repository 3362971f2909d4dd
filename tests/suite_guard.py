"""What a run must have exercised: the backends configured, and in CI all of them plus the browser.

``make test`` closes with ``backends exercised: …``. Outside CI a run may be partial (one folder,
``-k``), so only a configured PostgreSQL/Redis that no test touched fails it. In CI
(``CI`` set to anything but ``0``/``false``) the run must prove every half: SQLite, PostgreSQL,
Redis and the browser test; a CI machine that lost a service or Chromium goes red, not green
with half the proof gone.
"""

from __future__ import annotations

CI_REQUIRED = ("browser", "postgresql", "redis", "sqlite")


def in_ci(environ) -> bool:
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_backends(exercised, *, configured: bool, ci: bool) -> list[str]:
    """The names the closing line should show but does not; empty when the run may pass.

    ``configured``: TEST_DATABASE_URL and REDIS_URL are both set.
    """
    exercised = set(exercised)
    if ci:
        return [name for name in CI_REQUIRED if name not in exercised]
    if configured and "sqlite" in exercised:
        return [name for name in ("postgresql", "redis") if name not in exercised]
    return []
