"""Everything of the funding domain that registers itself: rules, workflows, panels, jobs."""

import grants.funding.contract_panels  # noqa: F401
import grants.funding.disbursements  # noqa: F401  (connects to project.terminated)
import grants.funding.finance_panels  # noqa: F401
import grants.funding.rules  # noqa: F401
import grants.funding.spending_panels  # noqa: F401
import grants.funding.workflow  # noqa: F401
