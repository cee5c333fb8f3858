"""The canonical request/result model, the pipeline, the router and the executor."""

__all__: list[str] = []
