"""Absolute links from the configured origin (``BASE_URL``), never from the request's Host.

A link that leaves the site (an e-mail, a PDF, an export) is built here. Building it from
the request would let anyone who sends ``Host: evil.example`` have the app mail a reset
link to a host of their choosing; building it from ``BASE_URL`` gives the same answer in a
request, in a job and in a command.

- :func:`external_url` is ``url_for(endpoint, _external=True)`` on ``BASE_URL``;
- :func:`site_path` is the path part (with ``BASE_URL``'s path prefix), e.g. for the link
  of an inbox message written by a job;
- :func:`absolute_url` turns such a site path into an address on ``BASE_URL``'s origin;
- :func:`base_url_request_context` gives code outside a request (jobs, PDFs) a request
  context on ``BASE_URL``, so that templates and ``url_for`` work there as in a request.

Templates call ``external_link(endpoint, **values)``.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from flask import Flask, current_app, has_request_context, request
from werkzeug.routing import MapAdapter

from grants.core.redirects import is_safe_path


class Origin(NamedTuple):
    scheme: str
    netloc: str
    path: str  # the prefix the app is mounted under, "" at the root

    @property
    def root(self) -> str:
        return f"{self.scheme}://{self.netloc}"


def base_origin() -> Origin:
    """``BASE_URL`` split into scheme, host[:port] and path prefix."""
    parts = urlsplit(current_app.config["BASE_URL"])
    return Origin(parts.scheme, parts.netloc, parts.path.rstrip("/"))


def _adapter(origin: Origin) -> MapAdapter:
    return current_app.url_map.bind(
        origin.netloc, script_name=origin.path or "/", url_scheme=origin.scheme
    )


def _build(endpoint: str, values: dict, *, external: bool) -> str:
    values = dict(values)
    anchor = values.pop("_anchor", None)
    method = values.pop("_method", None)
    if endpoint.startswith(".") and has_request_context() and request.blueprint:
        endpoint = request.blueprint + endpoint
    current_app.inject_url_defaults(endpoint, values)
    url = _adapter(base_origin()).build(endpoint, values, method=method, force_external=external)
    if anchor is not None:
        url += "#" + quote(anchor, safe="%!#$&'()*+,/:;=?@")
    return url


def site_path(endpoint: str, **values) -> str:
    """The path of ``endpoint`` under ``BASE_URL``'s prefix; works in requests, jobs and commands."""
    return _build(endpoint, values, external=False)


def external_url(endpoint: str, **values) -> str:
    """The absolute address of ``endpoint`` on ``BASE_URL``, whatever Host the request named."""
    return _build(endpoint, values, external=True)


def absolute_url(path: str) -> str:
    """A site path (``/applications/5``, as :func:`site_path` gives) as an address on ``BASE_URL``.

    Anything but a single-slash path (a full URL, ``//host``, a relative path) is refused,
    so stored text can never turn an e-mail link into a link to another site.
    """
    if not is_safe_path(path):
        raise ValueError(f"not a site path: {path[:100]!r}")
    return base_origin().root + path


def base_url_request_context():
    """A request context on ``BASE_URL`` when there is none (jobs, commands); else nothing new."""
    if has_request_context():
        return contextlib.nullcontext()
    return current_app.test_request_context("/", base_url=current_app.config["BASE_URL"])


def init_links(app: Flask) -> None:
    """Templates build absolute links with ``external_link(endpoint, **values)``."""
    app.jinja_env.globals.update(external_link=external_url)
