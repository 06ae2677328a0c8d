"""`rft users delete NAME`: on this server's own database and data dir, like `rft keys`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from app.core.errors import DomainError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

users_cli = typer.Typer(
    help="Users (on this server's database and data dir).", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)


@users_cli.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="The user to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for their running jobs to stop.")
    ] = 300.0,
) -> None:
    """Delete a user with everything they own: keys, datasets, evaluators, jobs (checkpoints,
    exports), deployments, and their files. Their unfinished jobs are cancelled first."""
    from app.cli.serve import prepare
    from app.core.checks import load
    from app.core.db import make_engine, make_session_factory, transaction
    from app.services import user_deletion

    settings = load()
    prepare(settings)
    engine = make_engine(settings.database)
    factory = make_session_factory(engine)
    try:
        with transaction(factory) as session:
            user = user_deletion.get_by_name(session, name)
            user_deletion.check_deletable(session, user)
            removal = user_deletion.plan(session, settings, user)
            running = user_deletion.still_running(session, user)
        counts = ", ".join(f"{n} {kind}" for kind, n in removal.counts.items())
        if not yes:
            typer.confirm(f"Delete user {name!r}: {counts}, and their files?", abort=True)
        with transaction(factory) as session:
            running = user_deletion.stop_work(session, user_deletion.get_by_name(session, name))
        _wait_for(factory, name, running, wait)
        files = len(removal.storage_keys) + len(removal.local_dirs)
        columns = (TextColumn("removing files"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            bar = progress.add_task("", total=files)
            with transaction(factory) as session:
                user = user_deletion.get_by_name(session, name)
                user_deletion.delete(session, settings, user, lambda _: progress.advance(bar))
    except DomainError as exc:
        err.print(f"[bold red]error:[/] {exc.detail}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    out.print(f"deleted user {name!r}: {counts}; {files} folder(s) of files removed")


def _wait_for(factory: sessionmaker[Session], name: str, running: list[int], wait: float) -> None:
    """Until the user's running jobs have stopped (their workers stop them at the next step)."""
    from app.core.db import transaction
    from app.services import user_deletion

    if not running:
        return
    deadline = time.monotonic() + wait
    with err.status(f"cancelled; waiting for job(s) {running} to stop") as status:
        while running and time.monotonic() < deadline:
            time.sleep(0.5)
            with transaction(factory) as session:
                running = user_deletion.still_running(
                    session, user_deletion.get_by_name(session, name)
                )
            status.update(f"cancelled; waiting for job(s) {running} to stop")
