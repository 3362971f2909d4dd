from flask import url_for

from grants.core.jobs import enqueue, job
from grants.core.models import Job
from grants.extensions import db

URL_JOB = "tests.core.build_url"


@job(URL_JOB)
def build_url(ctx) -> dict:
    return {"url": url_for("core.index", _external=True)}


def test_jobs_build_external_urls_from_base_url(app, run_jobs):
    server_name, base_url = app.config["SERVER_NAME"], app.config["BASE_URL"]
    app.config.update(SERVER_NAME=None, BASE_URL="https://grants.example.cn")
    try:
        record = enqueue(URL_JOB)
        db.session.commit()
        run_jobs()
        db.session.expire_all()
        done = db.session.get(Job, record.id)
    finally:
        app.config.update(SERVER_NAME=server_name, BASE_URL=base_url)
    assert done.status == "finished", done.error
    assert done.result == {"url": "https://grants.example.cn/"}
