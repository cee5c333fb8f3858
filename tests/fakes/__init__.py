"""Upstream fakes: small ASGI apps that speak each provider's real wire protocol.

Each module builds a Starlette app from a state object whose fields are fault switches
and a record of the requests it received; tests serve it on loopback with
`tests.fakes.server.serve`.
"""
