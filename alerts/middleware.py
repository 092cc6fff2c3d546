from django.urls import Resolver404, resolve


class WebhookMiddleware:
    """Pass alert webhook requests straight to their view, past the middleware for people.

    A webhook carries a token, not a session, so sessions, authentication, CSRF, messages, the
    viewer's time zone and htmx do nothing for it. On the benchmark machine of
    docs/benchmarks.md that middleware took about a quarter of a webhook request's CPU. Place
    this after SecurityMiddleware, which still applies. Every other path, and a webhook path
    that matches no webhook URL, goes through the whole stack as usual.
    """

    PATH_PREFIX = "/webhooks/"
    URL_NAMES = {"alerts:webhook", "alerts:webhook_token"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(self.PATH_PREFIX):
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if match.view_name not in self.URL_NAMES:
            return self.get_response(request)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        # CommonMiddleware would set it; without it gunicorn sends the body chunked.
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response
