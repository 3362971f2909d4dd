"""Who may request, see and download portfolio reports and open data."""

from grants.core.permissions import has_role, rule

staff = has_role("bureau", "admin")

rule("report.request", staff)
rule("report.view", staff)
rule("report.download", staff)
rule("report.dashboard", staff)
rule("report.open_data", staff)
