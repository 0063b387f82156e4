from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from monitoring.health import OK, check_broker, check_database


@never_cache
@require_safe
def health(request):
    """Public probe for load balancers: 200 when the database and broker answer, else 503.

    It says nothing about internals (no hosts, versions or errors): those are for the
    authenticated views and ``manage.py healthcheck``.
    """
    results = [check_database(), check_broker(timeout=2.0)]
    healthy = all(result.status == OK for result in results)
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {result.name: "ok" if result.status == OK else "fail" for result in results},
    }
    return JsonResponse(body, status=200 if healthy else 503)
