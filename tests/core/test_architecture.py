"""The architecture holds: import-linter's contracts (pyproject.toml) and no import hidden in a function.

Packages talk upward through domain events and hooks (grants/core/signals.py), so an
import inside a function is no longer needed to dodge a cycle. The few that remain are
deliberate and listed below with their reason; a new one fails here until it is moved to
the top of its module or listed.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "grants"

_FACTORY = (
    "the app factory's register_* steps import what they bind when an app is built, so that "
    "importing any grants module does not load every domain through the root package"
)
_REDIS = "Redis and RQ load only when REDIS_URL is set; without them jobs run in-process"
_S3 = "the S3 client loads only when STORAGE_BACKEND is s3 (boto3 is slow to import)"
_MATPLOTLIB = (
    "matplotlib loads with the first chart, after selecting the Agg backend "
    "(about half a second of start-up otherwise)"
)

# (file relative to the repository, imported module) -> why the import stays in a function;
# "*" stands for every import of the file.
ALLOWED_FUNCTION_IMPORTS = {
    ("grants/__init__.py", "*"): _FACTORY,
    ("grants/core/jobs.py", "grants"): (
        "the job runner builds the app when a job runs outside one (an RQ worker started "
        "without `flask worker`); the one import of the app factory"
    ),
    ("grants/core/jobs.py", "redis"): _REDIS,
    ("grants/core/jobs.py", "rq"): _REDIS,
    ("grants/core/jobs.py", "rq.job"): _REDIS,
    ("grants/cli.py", "redis"): _REDIS,
    ("grants/cli.py", "rq"): _REDIS,
    ("grants/core/storage.py", "boto3"): _S3,
    ("grants/core/storage.py", "botocore.config"): _S3,
    ("grants/core/storage.py", "botocore.exceptions"): _S3,
    ("grants/reports/charts.py", "matplotlib"): _MATPLOTLIB,
    ("grants/reports/charts.py", "matplotlib.pyplot"): _MATPLOTLIB,
}


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if path.name == "__init__.py":
        parts = parts[:-1]
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def function_level_imports() -> list[tuple[str, str, int]]:
    """Every import statement inside a function or method of grants/: (file, module, line)."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = path.relative_to(ROOT).as_posix()
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        found.add((rel, alias.name, node.lineno))
                elif isinstance(node, ast.ImportFrom):
                    found.add((rel, _absolute(path, node), node.lineno))
    return sorted(found)


def _allowed(rel: str, module: str) -> bool:
    return (rel, module) in ALLOWED_FUNCTION_IMPORTS or (rel, "*") in ALLOWED_FUNCTION_IMPORTS


def test_architecture_no_import_hides_in_a_function():
    hidden = [
        f"{rel}:{line} imports {module}"
        for rel, module, line in function_level_imports()
        if not _allowed(rel, module)
    ]
    assert not hidden, (
        "imports inside functions (move them to the top of the module; a lower layer that "
        "needs a higher one uses an event or a hook, grants/core/signals.py):\n" + "\n".join(hidden)
    )


def test_architecture_allow_list_has_no_stale_entries():
    seen = {(rel, module) for rel, module, _line in function_level_imports()}
    seen |= {(rel, "*") for rel, _module, _line in function_level_imports()}
    stale = sorted(set(ALLOWED_FUNCTION_IMPORTS) - seen)
    assert not stale, f"allow-listed imports that no longer exist: {stale}"


def test_architecture_allow_list_gives_reasons():
    assert all(len(reason) > 20 for reason in ALLOWED_FUNCTION_IMPORTS.values())


def _lint_imports() -> str:
    beside = Path(sys.executable).with_name("lint-imports")
    program = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert program, "import-linter is not installed (pip install -e '.[test]')"
    return program


def test_architecture_import_linter_contracts_are_kept():
    result = subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "0 broken" in output, output


def test_architecture_contracts_cover_layers_views_models_and_cycles():
    with (ROOT / "pyproject.toml").open("rb") as f:
        contracts = tomllib.load(f)["tool"]["importlinter"]["contracts"]
    assert {c["id"] for c in contracts} >= {
        "layers",
        "views-are-leaves",
        "models-below-verbs",
        "acyclic",
    }
    layers = next(c for c in contracts if c["id"] == "layers")["layers"]
    assert layers[-3:] == ["core", "extensions", "config"]
