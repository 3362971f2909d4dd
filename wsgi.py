"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``.

Behind a reverse proxy set ``PROXY_HOPS`` to the number of proxies so that client
addresses (login throttling, audit log) and the HTTPS scheme are taken from them.
"""

import os

from werkzeug.middleware.proxy_fix import ProxyFix

from grants import create_app
from grants.core.templating import precompile_templates

app = create_app()
precompile_templates(app)
if os.environ.get("PROXY_HOPS"):
    hops = int(os.environ["PROXY_HOPS"])
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
