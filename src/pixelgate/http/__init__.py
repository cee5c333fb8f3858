"""HTTP plumbing shared by every endpoint: the endpoint runner, body limits, JSON I/O."""

__all__: list[str] = []
