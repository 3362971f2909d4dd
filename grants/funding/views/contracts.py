"""(being written)"""

from grants.funding.views import bp  # noqa: F401
