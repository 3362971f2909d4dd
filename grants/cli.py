"""Flask commands: seed-demo, create-user, worker, scheduler, backup, restore (plus Flask-Migrate's ``db``)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app

from grants.accounts import operations as ops
from grants.accounts.forms import MIN_PASSWORD
from grants.core import storage
from grants.core.backup import BackupError, backup, restore
from grants.core.jobs import dispatch_pending, sweep_dead_jobs
from grants.core.scheduler import loop, run_due
from grants.core.sqlite import immediate_writes
from grants.core.storage import StorageUnavailable
from grants.core.types import utcnow
from grants.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USERS, database_is_empty, seed_demo
from grants.extensions import db


def init_cli(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(storage_check_command)


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Only when the database has no users yet.")
def seed_demo_command(if_empty: bool) -> None:
    """Load the demo data (idempotent)."""
    if if_empty and not database_is_empty():
        click.echo("database not empty: demo data not loaded")
        return
    counts = seed_demo()
    db.session.commit()
    click.echo("demo data: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    handles = "|".join(handle for handle, *_ in DEMO_USERS)
    click.echo(f"demo accounts: {handles}@{DEMO_DOMAIN}, password {DEMO_PASSWORD}")


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(["applicant", "expert", "finance", "bureau", "admin"]),
    required=True,
)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_user_command(email: str, name: str, roles: tuple[str, ...], password: str) -> None:
    """Create an account with the given roles."""
    if len(password) < MIN_PASSWORD:
        raise click.BadParameter(f"at least {MIN_PASSWORD} characters", param_hint="--password")
    try:
        user = ops.create_user(email=email, name=name, password=password, roles=list(roles))
    except ops.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"created {user.email} with roles {', '.join(sorted(user.role_names))}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker_command(burst: bool) -> None:
    """Run an RQ worker for this app's queue (needs REDIS_URL)."""
    from redis import Redis
    from rq import SimpleWorker

    url = current_app.config.get("REDIS_URL")
    if not url:
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run inside the app")
    connection = Redis.from_url(url)
    worker = SimpleWorker([current_app.config["RQ_QUEUE"]], connection=connection)
    worker.work(burst=burst, with_scheduler=False)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Enqueue what is due now and stop.")
@click.option("--interval", default=30.0, show_default=True, help="Seconds between checks.")
def scheduler_command(once: bool, interval: float) -> None:
    """Enqueue periodic jobs when due, dispatch the outbox, sweep dead jobs (run one beside the RQ workers)."""
    if once:
        app = current_app._get_current_object()
        with immediate_writes():
            swept = sweep_dead_jobs()
            db.session.commit()
        dispatched = dispatch_pending(app)
        started = run_due()
        click.echo("enqueued: " + (", ".join(started) or "nothing due"))
        click.echo(f"dispatched: {dispatched}, dead jobs swept: {len(swept)}")
        return
    loop(current_app._get_current_object(), interval=interval)


@click.command("backup")
@click.option(
    "--output",
    "output",
    type=click.Path(dir_okay=False),
    default=None,
    help="The backup file (default: instance/backups/grants-<time>.tar.gz).",
)
def backup_command(output: str | None) -> None:
    """Back up the database and the files its rows refer to into one .tar.gz file.

    Exits with status 2 when files named by rows were missing from the file store (the
    backup is written all the same; the manifest lists them).
    """

    target = (
        Path(output)
        if output
        else (
            Path(current_app.config["INSTANCE_DIR"])
            / "backups"
            / f"grants-{utcnow():%Y%m%d-%H%M%S}.tar.gz"
        )
    )
    try:
        summary = backup(target)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    except StorageUnavailable as exc:
        raise click.ClickException(f"the file store did not answer: {exc.detail}") from exc
    rows = sum(summary.tables.values())
    click.echo(
        f"backup written to {summary.path}: schema {summary.revision}, {rows} rows in "
        f"{len(summary.tables)} tables, {summary.files} files"
    )
    if summary.missing:
        click.echo(
            f"warning: {len(summary.missing)} file(s) named by rows were not in the file store "
            f'(deleted while the backup ran, or lost before); they are listed under "missing" '
            f"in the manifest: " + ", ".join(summary.missing[:10]),
            err=True,
        )
        raise SystemExit(2)


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
def restore_command(archive: str) -> None:
    """Restore a backup into an empty database (DATABASE_URL) and the file store (STORAGE_BACKEND)."""

    try:
        summary = restore(Path(archive))
    except BackupError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    rows = sum(summary.tables.values())
    click.echo(
        f"restored {rows} rows in {len(summary.tables)} tables and {summary.files} files "
        f"(schema {summary.revision})"
    )


@click.command("storage-check")
@click.option("--sweep", is_flag=True, help="Also delete the orphans older than the grace period.")
def storage_check_command(sweep: bool) -> None:
    """Compare the file store with the rows: files rows name that are missing, and orphans.

    Exits with status 1 when a row names a missing file.
    """
    try:
        result = storage.check()
        removed = storage.sweep() if sweep else []
    except storage.StorageUnavailable as exc:
        raise click.ClickException(f"the file store did not answer: {exc.detail}") from exc
    click.echo(
        f"storage {storage.backend().name}: {len(result.missing)} missing, "
        f"{len(result.orphans)} orphans older than the grace period"
        + (f", {len(removed)} removed" if sweep else "")
    )
    for key in result.missing:
        click.echo(f"missing: {key}")
    for item in result.orphans:
        click.echo(f"orphan: {item.key} ({item.size} bytes, {item.modified:%Y-%m-%d %H:%M})")
    if result.missing:
        raise SystemExit(1)
