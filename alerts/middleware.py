from django.http import JsonResponse
from django.urls import Resolver404, resolve

from .models import IntegrationKind


class WebhookMiddleware:
    """Pass alert webhook requests straight to their view, past the middleware for people.

    A webhook carries a token, not a session, so sessions, authentication, CSRF, messages, the
    viewer's time zone and htmx do nothing for it. On the benchmark machine of
    docs/benchmarks.md that middleware took about a quarter of a webhook request's CPU. Place
    this after SecurityMiddleware, which still applies. A path under /webhooks/ that matches no
    URL gets a JSON 404, and every other path goes through the whole stack as usual.
    """

    PATH_PREFIX = "/webhooks/"
    URL_NAMES = {
        "alerts:webhook",
        "alerts:webhook_token",
        "alerts:webhook_bare",
        "alerts:webhook_token_bare",
    }

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(self.PATH_PREFIX):
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            match = None
        if match is None:
            response = self._not_found()
        elif match.view_name in self.URL_NAMES:
            request.resolver_match = match
            response = match.func(request, *match.args, **match.kwargs)
        else:
            return self.get_response(request)
        # CommonMiddleware would set it. Without it, gunicorn sends the body chunked.
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response

    @staticmethod
    def _not_found() -> JsonResponse:
        # A sender reads JSON more easily than Django's HTML page.
        return JsonResponse(
            {
                "error": "No alert receiver at this address; post to /webhooks/<kind>/ with one "
                f"of {', '.join(IntegrationKind.values)}."
            },
            status=404,
        )
