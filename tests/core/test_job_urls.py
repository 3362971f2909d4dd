from flask import url_for

from grants.core.jobs import enqueue, job
from grants.core.links import external_url, site_path
from grants.core.models import Job
from grants.extensions import db

URL_JOB = "tests.core.build_url"


@job(URL_JOB)
def build_url(ctx) -> dict:
    return {
        "external": external_url("core.index"),
        "path": site_path("programmes.open_calls"),
        "url_for": url_for("programmes.open_calls"),
    }


def test_jobs_build_urls_from_base_url_with_its_prefix(app, run_jobs, monkeypatch):
    monkeypatch.setitem(app.config, "SERVER_NAME", None)
    monkeypatch.setitem(app.config, "BASE_URL", "https://grants.example.cn/portal")
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", ["grants.example.cn", "grants.test"])
    record = enqueue(URL_JOB)
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    done = db.session.get(Job, record.id)
    assert done.status == "finished", done.error
    assert done.result == {
        "external": "https://grants.example.cn/portal/",
        "path": "/portal/calls",
        "url_for": "/portal/calls",
    }
