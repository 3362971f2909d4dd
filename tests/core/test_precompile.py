"""wsgi.py compiles every template as a worker starts: each compiles, and all stay cached."""

from __future__ import annotations

from pathlib import Path

from grants.core.templating import precompile_templates

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_every_template_compiles_and_stays_cached(app):
    app.jinja_env.cache.clear()
    count = precompile_templates(app)
    ours = {p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")}
    assert ours <= set(app.jinja_env.list_templates())
    assert count >= len(ours) > 100
    assert count <= app.jinja_env.cache.capacity, (
        "a template compiled at start would be evicted again"
    )
    assert len(app.jinja_env.cache) == count
