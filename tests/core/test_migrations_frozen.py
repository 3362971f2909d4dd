"""Landed migrations are never edited: each file's sha256 must match ``migrations/frozen.txt``.

A database that ran a migration will not run it again, so an edit to a landed migration
changes only the databases made after the edit. Change the schema with a new migration.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ROOT / "migrations" / "versions"
FROZEN = ROOT / "migrations" / "frozen.txt"
HOW_TO_ADD = "add it with: sha256sum migrations/versions/{name} >> migrations/frozen.txt"


def frozen_hashes() -> dict[str, str]:
    """File name → sha256 as listed in ``migrations/frozen.txt`` (``sha256sum`` format)."""
    hashes = {}
    for line in FROZEN.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        digest, path = line.split(maxsplit=1)
        hashes[Path(path.lstrip("*")).name] = digest
    return hashes


def migration_files() -> list[Path]:
    return sorted(VERSIONS.glob("*.py"))


def test_migrations_frozen_lists_every_migration():
    listed = frozen_hashes()
    missing = [path.name for path in migration_files() if path.name not in listed]
    assert not missing, "migrations missing from migrations/frozen.txt: " + "; ".join(
        f"{name}: {HOW_TO_ADD.format(name=name)}" for name in missing
    )


def test_migrations_frozen_hashes_unchanged():
    listed = frozen_hashes()
    changed = [
        path.name
        for path in migration_files()
        if path.name in listed
        and hashlib.sha256(path.read_bytes()).hexdigest() != listed[path.name]
    ]
    assert not changed, (
        f"landed migrations were edited: {', '.join(changed)}. Databases that already ran them "
        "will not see the edit: restore them (git checkout main -- migrations/versions/...) "
        "and write a new migration instead."
    )


def test_migrations_frozen_names_only_existing_files():
    present = {path.name for path in migration_files()}
    gone = sorted(set(frozen_hashes()) - present)
    assert not gone, f"migrations/frozen.txt lists migrations that are gone: {', '.join(gone)}"
