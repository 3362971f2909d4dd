"""Files kept with a progress report or a change request: stored, audited on their owner, removed.

The owner (a report, a request) decides whether a file may be added or removed; these
helpers do the rest the same way for each. They flush and never commit; a stored file
goes again if the transaction rolls back, a removed one only once it commits.
"""

from __future__ import annotations

from grants.core import audit, storage
from grants.extensions import db
from grants.projects.models import ProjectFile


def attach(
    owner, upload, actor, *, purpose: str, event: str, refused, **owner_column
) -> ProjectFile:
    """Store ``upload`` as a project file of ``owner`` (its ``owner_column`` set) and audit ``event``
    on the owner; a wrong type or size raises ``refused(message)``."""
    try:
        stored = storage.save_upload(upload)
    except storage.UploadRefused as exc:
        raise refused(exc.message) from None
    item = ProjectFile.from_stored(
        stored, project_id=owner.project_id, purpose=purpose, actor=actor, **owner_column
    )
    db.session.add(item)
    db.session.flush()
    audit.record(
        event,
        owner,
        actor=actor,
        after={
            "file_id": item.id,
            "name": item.original_name,
            "size": item.size,
            "sha256": item.sha256,
        },
    )
    return item


def detach(item: ProjectFile, owner, actor, *, event: str) -> None:
    """Remove ``item`` of ``owner`` and audit ``event``; the stored file goes once the session commits."""
    storage.delete_after_commit(item.stored_name)
    audit.record(
        event,
        owner,
        actor=actor,
        before={"file_id": item.id, "name": item.original_name, "sha256": item.sha256},
    )
    db.session.delete(item)
    db.session.flush()
