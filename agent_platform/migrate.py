"""Apply Alembic migrations from code (the CLI, the tests and the evidence job use this).

Alembic's files live in the checkout (``alembic.ini``, ``migrations/``); this module points
Alembic at them and at a database URL, so no caller needs to shell out to ``alembic``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from agent_platform.config import project_root
from agent_platform.db import normalize_url

__all__ = ["alembic_config", "downgrade", "upgrade"]


def alembic_config(url: str, root: Path | None = None) -> Config:
    """An Alembic config for ``url`` using this checkout's migration scripts."""
    base = root or project_root()
    cfg = Config(str(base / "alembic.ini"))
    cfg.set_main_option("script_location", str(base / "migrations"))
    # ConfigParser treats % as interpolation: escape it so URL-encoded passwords survive.
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at ``url`` down to ``revision``."""
    command.downgrade(alembic_config(url), revision)
