import sqlalchemy as sa

from grants.core.models import AuditEvent, Job
from grants.extensions import db
from tests.factories import make_user


def failed_job() -> Job:
    job = Job(name="orgs.expire_invitations", args=[], status="failed", attempts=1, error="boom")
    db.session.add(job)
    db.session.commit()
    return job


def test_admin_retries_a_failed_job_and_it_runs(client, login, run_jobs):
    job = failed_job()
    login(make_user("admin"))
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f"/jobs/{job.id}/retry" in page and "boom" in page
    response = client.post(f"/jobs/{job.id}/retry")
    assert response.status_code == 302
    run_jobs()
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "finished" and job.attempts == 2
    assert db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "job.retried")).one()


def test_retry_of_a_finished_job_changes_nothing(client, login):
    job = Job(name="orgs.expire_invitations", args=[], status="finished", attempts=1, progress=100)
    db.session.add(job)
    db.session.commit()
    login(make_user("admin"))
    client.post(f"/jobs/{job.id}/retry")
    db.session.expire_all()
    assert db.session.get(Job, job.id).attempts == 1


def test_only_bureau_and_admins_retry_jobs(client, login):
    job = failed_job()
    login(make_user("applicant"))
    assert client.post(f"/jobs/{job.id}/retry").status_code == 403
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == "failed"


def test_bureau_retries_a_failed_job_from_the_jobs_page(client, login, run_jobs):
    job = failed_job()
    login(make_user("bureau"))
    page = client.get("/admin/jobs?state=failed").get_data(as_text=True)
    assert f"/jobs/{job.id}/retry" in page and "boom" in page
    response = client.post(f"/jobs/{job.id}/retry", data={"back": "list"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/jobs")
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == "finished"
