import logging

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services

logger = logging.getLogger(__name__)


@csrf_exempt
@login_not_required
@require_POST
def slash_command(request):
    """Receive /incident from Slack; the signature, not a session, authenticates the request."""
    try:
        services.slack_request_verify(
            body=request.body,
            timestamp=request.headers.get("X-Slack-Request-Timestamp"),
            signature=request.headers.get("X-Slack-Signature"),
        )
    except services.SlackRequestRejected as rejection:
        logger.warning("Rejected a Slack request: %s", rejection)
        return JsonResponse({"error": str(rejection)}, status=rejection.status)
    reply = services.slash_command_receive(data=request.POST)
    return JsonResponse(reply.as_slack())
