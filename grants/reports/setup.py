"""Everything of the reports domain that registers itself: rules, panels, jobs."""

import grants.reports.jobs  # noqa: F401
import grants.reports.rules  # noqa: F401
import grants.reports.workflow  # noqa: F401
