"""The applications blueprint: drafting and submission (drafting.py), bureau pages (bureau.py)."""

from flask import Blueprint

bp = Blueprint("applications", __name__)

from grants.applications.views import bureau, drafting  # noqa: E402,F401
