"""Everything of the projects domain that registers itself: rules, workflows, panels, jobs."""

import grants.projects.acceptance_panels
import grants.projects.change_panels
import grants.projects.jobs
import grants.projects.panels
import grants.projects.rules
import grants.projects.workflow  # noqa: F401
