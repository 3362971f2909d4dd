"""The periodic sweep of stored objects that no row refers to (left by crashes and failed deletes)."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l

from grants.core import storage
from grants.core.jobs import JobContext, job
from grants.core.scheduler import schedule


@job("storage.sweep", immediate=False, label=_l("Remove stored files no record refers to"))
def sweep_orphans(ctx: JobContext):
    """Delete the stored objects older than the grace period that no row refers to.

    It only reads the database, in read transactions of their own ended before the disk is
    touched (``immediate=False``): SQLite's write lock is never held while files are listed
    or removed.
    """
    removed = storage.sweep()
    return {"removed": len(removed)}


schedule("storage.sweep", timedelta(hours=6))
