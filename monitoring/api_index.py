"""``GET /api/``: what the JSON API offers, read from its own URL patterns and view docstrings,
so the list cannot drift from the routes. Needs a token or a staff session, like the rest."""

from __future__ import annotations

import inspect

from django.http import JsonResponse

from monitoring.api import api_endpoint


def _first_paragraph(view) -> str:
    doc = inspect.getdoc(inspect.unwrap(view)) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


@api_endpoint("GET")
def api_index(request):
    """This list: every endpoint of the JSON API with what it does."""
    from monitoring.api_urls import urlpatterns

    endpoints = []
    for pattern in urlpatterns:
        route = str(pattern.pattern)
        if not route.startswith("api/") or route == "api/":
            continue
        endpoints.append({"path": "/" + route, "does": _first_paragraph(pattern.callback)})
    return JsonResponse(
        {
            "authentication": (
                "Authorization: Bearer <token> (manage.py create_api_token, or the admin), or a "
                "staff session with its CSRF token for POST; /api/health/ is public."
            ),
            "endpoints": endpoints,
            "metrics": "/metrics (Prometheus text format, same authentication)",
        }
    )
