"""HTTP endpoints, grouped by resource; each one goes through `http.runner.run_endpoint`."""

__all__: list[str] = []
