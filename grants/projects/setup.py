"""Everything of the projects domain that registers itself: rules, workflows, panels, jobs."""

import grants.projects.acceptance_panels  # noqa: F401
import grants.projects.change_panels  # noqa: F401
import grants.projects.jobs  # noqa: F401
import grants.projects.panels  # noqa: F401
import grants.projects.rules  # noqa: F401
import grants.projects.workflow  # noqa: F401
