"""(being written)"""

from grants.projects.views import bp  # noqa: F401
