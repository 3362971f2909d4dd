"""The review blueprint: the pool (pool.py), assignment (assign.py), scoring and the panel
(scoring.py), decisions, public notices and release (decisions.py)."""

from flask import Blueprint

bp = Blueprint("review", __name__)

from grants.review.views import assign, decisions, pool, scoring  # noqa: E402,F401
