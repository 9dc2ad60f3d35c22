"""Access control for the HTTP service: the admin key, rate limits, CORS,
and what an error response may reveal.

Admin endpoints are off unless ``admin_api_key`` is set; then they need it as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Questions are rate
limited per client address; a 429 says when to retry (``Retry-After``).
Server-side failures answer with a generic message: the details, which can
name files on the server, go to the log only.
"""

from __future__ import annotations

import hmac
import logging

from litestar import Request, Response
from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig

from corpus.errors import DocentError
from service.schemas import ErrorBody
from service.settings import Settings

log = logging.getLogger("docent")
RATE_LIMITED_PATHS = ("/ask", "/search")


def admin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    key = connection.app.state.settings.admin_api_key
    if not key:
        raise PermissionDeniedException("admin endpoints are off: the service has no admin_api_key set")
    given = connection.headers.get("x-api-key") or ""
    auth = connection.headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not given or not hmac.compare_digest(given.encode(), key.encode()):
        raise NotAuthorizedException("a valid admin API key is required (Authorization: Bearer <key>)")


def rate_limit(settings: Settings) -> RateLimitConfig | None:
    if settings.rate_limit_per_minute <= 0:
        return None

    async def only_questions(request: Request) -> bool:
        return request.url.path in RATE_LIMITED_PATHS

    return RateLimitConfig(rate_limit=("minute", settings.rate_limit_per_minute), check_throttle_handler=only_questions)


def cors(settings: Settings) -> CORSConfig | None:
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    return CORSConfig(allow_origins=origins, allow_methods=["GET", "POST", "DELETE"], allow_headers=["content-type"]) if origins else None


def too_many_requests(request: Request, exc: TooManyRequestsException) -> Response[ErrorBody]:
    headers = dict(exc.headers or {})
    retry = headers.get("RateLimit-Reset", "60")
    body = ErrorBody(status_code=429, detail=f"too many questions from this client; retry after {retry} s")
    return Response(body, status_code=429, headers={**headers, "Retry-After": retry})


def public_message(request: Request, exc: DocentError) -> str:
    """What a client may read: a 4xx says what was wrong with the request; a
    5xx only that the service failed (the log has the details)."""
    if exc.status_code < 500:
        return str(exc)
    log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return "the service cannot answer right now (its index is unavailable); the operator's log says why"


def docent_error(request: Request, exc: DocentError) -> Response[ErrorBody]:
    detail = public_message(request, exc)
    return Response(ErrorBody(status_code=exc.status_code, detail=detail), status_code=exc.status_code)
