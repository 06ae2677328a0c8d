"""The `rft` command: the same rules as the HTTP API, from a terminal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from app.cli.datasets import datasets_cli
from app.cli.deployments import chat, deployments_cli, export, model_server
from app.cli.evaluators import evaluators_cli
from app.cli.jobs import jobs_cli
from app.cli.models import models_cli
from app.cli.users import users_cli
from app.core.checks import SettingError
from app.core.checks import load as load_settings
from app.core.config import Settings

if TYPE_CHECKING:
    from celery import Celery

cli = typer.Typer(
    help="RFT Studio: self-hosted reinforcement fine-tuning.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(datasets_cli, name="datasets")
cli.add_typer(evaluators_cli, name="evaluators")
cli.add_typer(jobs_cli, name="jobs")
cli.add_typer(models_cli, name="models")
cli.add_typer(deployments_cli, name="deployments")
cli.add_typer(users_cli, name="users")
cli.command("model-server")(model_server)
cli.command("chat")(chat)
cli.command("export")(export)

out = Console()
err = Console(stderr=True)


def _settings(**overrides: object) -> Settings:
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


@cli.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default: RFT_PORT or 8000).")] = None,
    host: Annotated[str | None, typer.Option(help="Address (default: RFT_HOST).")] = None,
) -> None:
    """Start the web app and, in embedded mode, one worker. Prints a one-time login URL."""
    from app.cli.serve import serve as run_server

    run_server(_settings(port=port, host=host))


@cli.command()
def worker(
    queues: Annotated[str, typer.Option(help="Comma-separated queues: gpu, cpu.")] = "gpu,cpu",
    concurrency: Annotated[int, typer.Option(min=1, help="Tasks run at once.")] = 1,
) -> None:
    """Run a Celery worker for training jobs (gpu) and evaluator/deployment work (cpu)."""
    from app.core import checks
    from app.tasks import QUEUES
    from worker.celery_app import make_celery

    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if unknown or not names:
        raise SettingError("--queues", f"unknown queue(s) {unknown or names}: use gpu and/or cpu")
    settings = _settings()
    checks.check_data_dir(settings)
    checks.check_database(settings)
    checks.check_broker(settings)
    argv = ["worker", "-Q", ",".join(names), "-c", str(concurrency), "-O", "fair"]
    argv += ["-n", f"rft-{'-'.join(names)}@%h", "--loglevel", "INFO"]
    if settings.broker_is_filesystem:
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    celery = make_celery(settings)
    _recover_jobs_when_ready(settings, celery)
    celery.worker_main(argv)


def _recover_jobs_when_ready(settings: Settings, celery: Celery) -> None:
    from celery.signals import worker_ready

    from worker.recovery import start_recovery_loop

    @worker_ready.connect(weak=False)
    def _start(**_: object) -> None:
        start_recovery_loop(settings, celery)


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (`rft serve` does this on start)."""
    from app.cli.serve import prepare

    settings = _settings()
    prepare(settings)
    out.print("database is up to date")


@cli.command()
def login(
    user: Annotated[str | None, typer.Option(help="Sign in as this user (default: admin).")] = None,
) -> None:
    """Print a fresh one-time login URL."""
    from app.cli.serve import login_url, prepare

    settings = _settings()
    prepare(settings)
    out.print(login_url(settings, user), soft_wrap=True)


@cli.command("demo")
def demo_command(
    steps: Annotated[int, typer.Option(min=1, help="Pre-training steps of the demo model.")] = 1500,
) -> None:
    """Build the demo model locally and give the admin the demo dataset, evaluator and job."""
    from rich.progress import Progress

    from app.cli.serve import prepare, seed_demo
    from app.services.demo import DEMO_MODEL
    from worker.training.demo_model import build_with_status

    settings = _settings()
    prepare(settings)
    preset = seed_demo(settings)
    with Progress(console=out) as progress:
        bar = progress.add_task("pre-training the demo model", total=steps)
        folder = build_with_status(
            settings.models_path,
            DEMO_MODEL,
            steps=steps,
            progress=lambda step, _total: progress.update(bar, completed=step),
        )
    out.print(f"demo model: {folder}")
    out.print(f"demo job preset: {preset}")
    out.print(f"launch it: rft jobs create --file {preset} --watch", soft_wrap=True)


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    user: Annotated[
        str | None, typer.Option(help="Owner (default: the admin user; created if unknown).")
    ] = None,
) -> None:
    """Create an API key and print it (shown once; only its hash is stored)."""
    from app.cli.serve import prepare
    from app.core.db import make_engine, make_session_factory, transaction
    from app.services import api_keys, users

    settings = _settings()
    prepare(settings)
    engine = make_engine(settings.database)
    with transaction(make_session_factory(engine)) as session:
        admin = users.ensure_admin(session, settings.admin_user)
        owner = users.get_or_create(session, user) if user else admin
        _row, key = api_keys.create(session, owner, name)
        owner_name = owner.name
    engine.dispose()
    err.print(f"API key {name!r} for user {owner_name!r} (shown once):")
    print(key)


def main() -> None:
    try:
        cli()
    except SettingError as exc:
        err.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
