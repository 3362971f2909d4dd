"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``.

Behind a reverse proxy set ``PROXY_HOPS`` (or the ``PROXY_FIX_*`` settings) to the number of
proxies so that client addresses (login throttling, audit log) and the HTTPS scheme are taken
from their headers; ``create_app`` installs werkzeug's ProxyFix accordingly.
"""

from grants import create_app
from grants.core.templating import precompile_templates

app = create_app()
precompile_templates(app)
