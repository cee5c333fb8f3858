"""Persistence: the database (SQLAlchemy async), migrations (Alembic) and the blob store."""

__all__: list[str] = []
