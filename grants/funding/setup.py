"""Everything of the funding domain that registers itself: rules, workflows, panels, jobs."""

import grants.funding.contract_panels
import grants.funding.disbursements
import grants.funding.finance_panels
import grants.funding.rules
import grants.funding.spending_panels
import grants.funding.workflow  # noqa: F401
