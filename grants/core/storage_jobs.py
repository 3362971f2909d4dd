"""The periodic sweep of stored objects that no row refers to (left by crashes and failed deletes)."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l

from grants.core import storage
from grants.core.jobs import JobContext, job
from grants.core.scheduler import schedule


@job("storage.sweep", label=_l("Remove stored files no record refers to"))
def sweep_orphans(ctx: JobContext):
    """Delete the stored objects older than the grace period that no row refers to."""
    removed = storage.sweep()
    return {"removed": len(removed)}


schedule("storage.sweep", timedelta(hours=6))
