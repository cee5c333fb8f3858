"""Apply Alembic migrations programmatically (used by `pixelgate migrate` and `serve`)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ["upgrade"]


def upgrade(database_url: str) -> None:
    """Bring the database at `database_url` to the newest schema (synchronous)."""
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("pixelgate.storage").joinpath("migrations"))
    )
    cfg.attributes["database_url"] = database_url
    command.upgrade(cfg, "head")
