"""Call pages: the bureau's call management and the applicants' list of open calls."""

from flask import Blueprint

bp = Blueprint("programmes", __name__)
