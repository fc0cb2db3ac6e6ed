"""``khealth feeds dead-letters [--replay ID]``: the HL7 v2 dead letters, for operators
at the console (the same as GET/POST /api/feeds/dead-letters)."""

from __future__ import annotations

from typing import Annotated

import typer

from khealth.cli.main import app

feeds_app = typer.Typer(help="Hospital feeds (HL7 v2)")
app.add_typer(feeds_app, name="feeds")


@feeds_app.command("dead-letters")
def dead_letters(
    replay: Annotated[int | None, typer.Option(help="replay this dead letter")] = None,
    limit: Annotated[int, typer.Option(help="how many to list")] = 50,
    all_: Annotated[bool, typer.Option("--all", help="include replayed letters")] = False,
    database: Annotated[str | None, typer.Option(help="database URL")] = None,
) -> None:
    """List refused messages (place and reason, never content), or replay one."""
    from khealth.core.config import get_settings
    from khealth.records.clock import format_instant
    from khealth.records.service import Records
    from khealth.store.factory import open_store
    from khealth.store.feeds_sql import open_feed

    settings = get_settings()
    store = open_store(database or settings.resolved_database_url(), migrate=True)
    try:
        feed = open_feed(store, Records(store), settings.data_dir)
        if replay is not None:
            try:
                applied, _ = feed.replay(replay)
            except KeyError:
                typer.echo(f"no dead letter {replay}", err=True)
                raise typer.Exit(2) from None
            letter = feed.ledger.dead_letter(replay)
            assert letter is not None
            typer.echo(f"{replay}: {'applied' if applied else 'refused again'}: {letter.error}")
            raise typer.Exit(0 if applied else 1)
        for d in feed.ledger.dead_letters(limit, all_):
            typer.echo(f"{d.id}\t{format_instant(d.received)}\t{d.facility}\t{d.message_type}\t"
                       f"{d.control_id}\t{d.ack_code}\t{d.state}\t{d.error}")  # fmt: skip
    finally:
        store.close()
