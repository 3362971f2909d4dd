"""The funding blueprint: contracting and tranches (contracts.py), disbursements and the
finance ledger (finance.py), spending reports and recoveries (spending.py)."""

from flask import Blueprint

bp = Blueprint("funding", __name__)

from grants.funding.views import contracts, finance, spending  # noqa: E402,F401
