"""Scoped throttling keyed by API key (by client address for anonymous requests)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from cadml_site.api.authentication import Credentials


class ApiKeyScopedThrottle(SimpleRateThrottle):
    """Applies the rate of the view's ``throttle_scope`` (``default`` when it names none).

    The answer to an exhausted budget is 429 with ``Retry-After`` (rendered by the exception handler).
    """

    cache_format = "throttle:%(scope)s:%(ident)s"

    def allow_request(self, request, view):
        self.scope = getattr(view, "throttle_scope", None) or "default"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or self.THROTTLE_RATES["default"]

    def get_cache_key(self, request, view):
        auth = getattr(request, "auth", None)
        ident = f"key:{auth.api_key.prefix}" if isinstance(auth, Credentials) else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
