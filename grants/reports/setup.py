"""Everything of the reports domain that registers itself: rules, panels, jobs."""

import grants.reports.rules  # noqa: F401
