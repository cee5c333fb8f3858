"""The console's routes, mounted at /console by the app."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pixelgate.console import (
    views_auth,
    views_deployments,
    views_key_limits,
    views_keys,
    views_playground,
    views_requests,
    views_tasks,
    views_usage,
)

__all__ = ["console_routes"]


def console_routes() -> list[BaseRoute]:
    return [
        Route("/console", views_auth.index, methods=["GET"]),
        Mount(
            "/console",
            routes=[
                Route("/", views_auth.index, methods=["GET"]),
                Route("/login", views_auth.login, methods=["GET", "POST"]),
                Route("/logout", views_auth.logout, methods=["POST"]),
                Route("/keys", views_keys.keys_page, methods=["GET"]),
                Route("/keys", views_keys.create_key, methods=["POST"]),
                Route("/keys/{key_id}/revoke", views_keys.revoke_key, methods=["POST"]),
                Route("/keys/{key_id}/limits", views_key_limits.save_limits, methods=["POST"]),
                Route("/keys/{key_id}/credit", views_key_limits.adjust_credit, methods=["POST"]),
                Route("/usage", views_usage.usage_page, methods=["GET"]),
                Route("/usage.csv", views_usage.usage_csv, methods=["GET"]),
                Route("/requests", views_requests.requests_page, methods=["GET"]),
                Route("/tasks.json", views_tasks.tasks_json, methods=["GET"]),
                Route("/playground", views_playground.playground_page, methods=["GET"]),
                Route("/playground/run", views_playground.playground_run, methods=["POST"]),
                Route("/deployments", views_deployments.deployments_page, methods=["GET"]),
                Mount(
                    "/static",
                    app=StaticFiles(packages=[("pixelgate.console", "static")]),
                    name="console-static",
                ),
            ],
        ),
    ]
