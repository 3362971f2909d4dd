"""Everything of the reports domain that registers itself: rules, panels, jobs."""

import grants.reports.jobs
import grants.reports.rules
import grants.reports.workflow  # noqa: F401
