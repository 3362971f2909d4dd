"""Mutation testing of the modules that hold the invariants; prints the score per module.

    make mutation                                   # every module below
    make mutation MUTATE="grants/core/money.py"     # some of them

Each module is mutated with mutmut 2 (which mutates module-level tables as well as
functions) against the tests that exercise it, in a copy of the tracked tree under
``.mutation/`` so that the working tree is never touched. mutmut's cache stays there: a
second run tests only mutants whose lines changed. Message strings are not mutated (a
changed message is a change of wording, caught by the tests that read the page, not an
invariant). It does not run in CI: on two cores the whole list takes hours. The last
scores and every surviving mutant with its verdict are in docs/testing.md.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
PYTHON = sys.executable

#: module → the tests that exercise it (run with -x: the first failure kills the mutant)
MODULES: dict[str, list[str]] = {
    "grants/core/workflow.py": ["tests/core/test_workflow.py", "tests/core/test_states.py"],
    "grants/core/permissions.py": ["tests/core/test_permissions.py"],
    "grants/core/money.py": ["tests/core/test_money.py"],
    "grants/core/timeutil.py": ["tests/core/test_timeutil.py"],
    "grants/applications/checks.py": [
        "tests/applications/test_checks.py",
        "tests/applications/test_drafting.py",
    ],
    "grants/applications/workflow.py": [
        "tests/applications/test_submission.py",
        "tests/applications/test_bureau_check.py",
    ],
    "grants/funding/disbursements.py": ["tests/funding/test_disbursements.py"],
    "grants/review/aggregation.py": [
        "tests/review/test_aggregation.py",
        "tests/review/test_decisions.py",
    ],
    "grants/review/solver.py": ["tests/review/test_solver.py"],
    "grants/review/conflicts.py": ["tests/review/test_conflicts.py"],
}
DISABLED = "string,fstring"
DETECTED = ("ok_killed", "bad_timeout", "ok_suspicious")


def copy_tree() -> None:
    """The tracked files as they are now (committed or not), translations compiled."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    WORK.mkdir(exist_ok=True)
    for raw in filter(None, listed):
        name = raw.decode()
        if name.startswith(".mutation/"):
            continue
        source, target = ROOT / name, WORK / name
        if not source.is_file():
            continue
        if target.exists() and target.read_bytes() == source.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    subprocess.run(
        [str(Path(PYTHON).parent / "pybabel"), "compile", "-d", "grants/translations"],
        cwd=WORK,
        check=True,
        capture_output=True,
    )


def patched_mutmut() -> None:
    """Run mutmut's command line with its line lookup keyed by text *and* line number.

    mutmut 2.5.1 caches the ``Line`` of a mutant by the line's text only, so in a module
    where the same line occurs twice (``)``, ``return total``) a mutant is recorded against
    the first occurrence, and storing its result then fails with "Attribute Mutant.line is
    required", ending the run. Same function, right key.
    """
    from mutmut import __main__ as cli
    from mutmut import cache

    @cache.init_db
    @cache.db_session
    def statuses(filename, mutations, hash_of_tests):
        sourcefile = cache.SourceFile.get(filename=filename)
        lines, result = {}, {}
        for mutation_id in mutations:
            key = (mutation_id.line, mutation_id.line_number)
            if key not in lines:
                lines[key] = cache.Line.get(sourcefile=sourcefile, line=key[0], line_number=key[1])
            mutant = cache.Mutant.get(line=lines[key], index=mutation_id.index)
            if mutant is None:
                mutant = cache.get_or_create(
                    cache.Mutant,
                    line=lines[key],
                    index=mutation_id.index,
                    defaults={"status": cache.UNTESTED},
                )
            stale = mutant.tested_against_hash != hash_of_tests or cache.NO_TESTS_FOUND in (
                mutant.tested_against_hash,
                hash_of_tests,
            )
            killed = mutant.status == cache.OK_KILLED
            result[mutation_id] = cache.UNTESTED if stale and not killed else mutant.status
        return result

    @cache.init_db
    @cache.db_session
    def update(file_to_mutate, mutation_id, status, tests_hash):
        sourcefile = cache.SourceFile.get(filename=file_to_mutate)
        line = cache.Line.get(
            sourcefile=sourcefile, line=mutation_id.line, line_number=mutation_id.line_number
        )
        if line is None:  # the same text cached under another number: record it where it is
            print(f"line cache miss: {file_to_mutate}:{mutation_id.line_number}", file=sys.stderr)
            line = cache.Line.get(sourcefile=sourcefile, line_number=mutation_id.line_number)
        mutant = cache.get_or_create(
            cache.Mutant, line=line, index=mutation_id.index, defaults={"status": status}
        )
        mutant.status = status
        mutant.tested_against_hash = tests_hash

    cache.get_cached_mutation_statuses = statuses
    cache.update_mutant_status = update
    sys.argv = ["mutmut", *sys.argv[2:]]
    cli.climain()


def forget_changed(modules: list[str]) -> list[str]:
    """Drop mutmut's cached lines and results of each module whose text changed since its run.

    mutmut 2.5.1 tries to carry line records over an edit, and after some edits its records
    no longer match the file: the run then stops on an assertion. A changed module is tested
    again from scratch instead; unchanged modules keep their results.
    """
    cache = WORK / ".mutmut-cache"
    if not cache.exists():
        return []
    db = sqlite3.connect(cache)
    forgotten = []
    with db:
        for module in modules:
            row = db.execute("SELECT id, hash FROM SourceFile WHERE filename = ?", (module,))
            found = row.fetchone()
            current = hashlib.sha256((WORK / module).read_bytes()).hexdigest()
            if found is None or found[1] == current:
                continue
            lines = "SELECT id FROM Line WHERE sourcefile = ?"
            db.execute(f"DELETE FROM Mutant WHERE line IN ({lines})", (found[0],))
            db.execute("DELETE FROM Line WHERE sourcefile = ?", (found[0],))
            db.execute("DELETE FROM SourceFile WHERE id = ?", (found[0],))
            forgotten.append(module)
    db.close()
    return forgotten


def run(module: str, tests: list[str]) -> None:
    runner = f"{PYTHON} -m pytest -x -q -p no:cacheprovider -p no:randomly -n 0 " + " ".join(tests)
    with (WORK / "mutmut.log").open("a") as log:
        subprocess.run(
            [
                PYTHON,
                __file__,
                "--mutmut",
                "run",
                "--paths-to-mutate",
                module,
                "--runner",
                runner,
                "--tests-dir",
                "tests",
                "--disable-mutation-types",
                DISABLED,
                "--no-progress",
            ],
            cwd=WORK,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CI": ""},
        )


def scores(modules: list[str]) -> list[tuple[str, int, int, list[int]]]:
    """(module, detected, total, ids of survivors) from mutmut's cache."""
    db = sqlite3.connect(WORK / ".mutmut-cache")
    rows = []
    for module in modules:
        found = db.execute(
            "SELECT m.id, m.status FROM Mutant m JOIN Line l ON m.line = l.id "
            "JOIN SourceFile f ON l.sourcefile = f.id WHERE f.filename = ? "
            "AND m.status != 'skipped' ORDER BY m.id",
            (module,),
        ).fetchall()
        detected = sum(1 for _, status in found if status in DETECTED)
        survivors = [i for i, status in found if status not in DETECTED]
        rows.append((module, detected, len(found), survivors))
    return rows


def main() -> int:
    chosen = os.environ.get("MUTATE", "").split() or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        print(f"not in the list: {' '.join(unknown)}", file=sys.stderr)
        return 2
    copy_tree()
    for module in forget_changed(chosen):
        print(f"{module} changed since its last run: all its mutants are tested again", flush=True)
    for module in chosen:
        print(f"mutating {module} …", flush=True)
        run(module, MODULES[module])
    print(f"\n{'module':40} {'killed':>7} {'total':>6} {'score':>7}")
    for module, detected, total, survivors in scores(chosen):
        score = f"{100 * detected / total:.1f} %" if total else "–"
        print(f"{module:40} {detected:7} {total:6} {score:>7}")
        if survivors:
            print(f"  survivors (mutmut show <id> in .mutation/): {survivors}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--mutmut"]:
        patched_mutmut()
    sys.exit(main())
