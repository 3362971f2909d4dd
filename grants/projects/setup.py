"""Everything of the projects domain that registers itself: rules, workflows, panels, jobs."""

import grants.projects.rules  # noqa: F401
import grants.projects.workflow  # noqa: F401
