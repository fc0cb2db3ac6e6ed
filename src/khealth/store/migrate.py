"""Schema migrations (Alembic), run by ``khealth db upgrade`` and by ``serve`` at start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.connect() as conn:
        config = _config(engine)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()


def is_empty(engine: Engine) -> bool:
    return not inspect(engine).has_table("resource")


def revision(engine: Engine, message: str) -> None:
    """Developers: autogenerate a migration from the difference to schema.py."""
    with engine.connect() as conn:
        config = _config(engine)
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)
