"""Operator signals: Prometheus metrics and JSON structured logs."""

__all__: list[str] = []
