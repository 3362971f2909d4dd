"""The projects blueprint: lists, the project page, milestones, progress reports,
mid-term checks and the at-risk list (tracking.py), change requests and termination
(changes.py), final report, outcomes and acceptance (acceptance.py)."""

from flask import Blueprint

bp = Blueprint("projects", __name__)

from grants.projects.views import acceptance, changes, tracking  # noqa: E402,F401
