"""Durable tasks: async requests and task-based upstreams, kept as database rows and run by a
worker (inside `pixelgate serve` or alone as `pixelgate worker`). See docs/tasks.md."""

__all__: list[str] = []
