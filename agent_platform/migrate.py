"""Apply Alembic migrations from code (the CLI, the tests and the evidence job use this).

Alembic's files live in the checkout (``alembic.ini``, ``migrations/``), not under
``AGENT_PLATFORM_HOME`` (which only relocates ``configs/`` and ``policies/``); this module points
Alembic at them and at a database URL, so no caller needs to shell out to ``alembic``. A failed
migration is a :class:`StorageError` naming the database (credentials hidden) and the revision.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.util import CommandError

from agent_platform._dberror import describe
from agent_platform.config import checkout_root, redact_url
from agent_platform.db import normalize_url
from agent_platform.errors import StorageError

__all__ = ["alembic_config", "downgrade", "upgrade"]


def alembic_config(url: str, root: Path | None = None) -> Config:
    """An Alembic config for ``url`` using this checkout's migration scripts."""
    base = root or checkout_root()
    cfg = Config(str(base / "alembic.ini"))
    cfg.set_main_option("script_location", str(base / "migrations"))
    # ConfigParser treats % as interpolation: escape it so URL-encoded passwords survive.
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``.

    Raises:
        StorageError: the database could not be reached or a migration failed.
    """
    _migrate(command.upgrade, url, "up", revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at ``url`` down to ``revision``.

    Raises:
        StorageError: the database could not be reached or a migration failed.
    """
    _migrate(command.downgrade, url, "down", revision)


def _migrate(step: Callable[[Config, str], None], url: str, way: str, revision: str) -> None:
    try:
        step(alembic_config(url), revision)
    except (sa.exc.SQLAlchemyError, CommandError) as exc:
        raise StorageError(
            f"migrating {redact_url(url)} {way} to {revision!r} failed: {describe(exc)}"
        ) from exc
