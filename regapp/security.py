"""The security baseline of every page (R28): CSRF, cookies, headers, rate limits."""

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from regapp.ratelimits import Windows
from regapp.sessions import is_staff_path
from regapp.settings import REDIS_SCHEMES, REDIS_TIMEOUTS

#: no inline script, no third-party origin: htmx comes from our own /static
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # invitation links carry their token in the path: never leak it to another origin;
    # same-origin requests keep their Referer, which CSRF's HTTPS check reads
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
#: for a deployment served over HTTPS
HSTS = (("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),)


def init_app(app):
    """Trust the configured proxies; turn on CSRF, the security headers and the limiter."""
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:  # the client address and scheme come from that many proxies' headers
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    CSRFProtect(app)
    storage_uri = app.config.get("RATELIMIT_STORAGE_URI", "memory://")
    limiter = app.extensions["regapp.limiter"] = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=storage_uri,
        # Redis gone refuses nobody a page: counted in memory meanwhile (ratelimits.py)
        storage_options=REDIS_TIMEOUTS if storage_uri.startswith(REDIS_SCHEMES) else {},
        in_memory_fallback_enabled=True,
    )
    app.extensions["regapp.windows"] = Windows(limiter)

    @limiter.request_filter
    def _not_staff():
        """Flask-Limiter looks for limits only where it keeps some, the staff console: the
        portal's views count theirs in one round trip (``views.common.limit_view``), and
        its look there cost a page's GET a tenth of its CPU (issue 15)."""
        return not is_staff_path(request.path)

    @app.after_request
    def _secure_headers(response):
        headers = response.headers
        wanted = [*HEADERS.items(), *(HSTS if app.config["PUBLIC_URL"].startswith("https://")
                                      else ())]
        present = {name.lower() for name, _ in headers}  # one look, not one per header
        headers.extend([(name, value) for name, value in wanted if name.lower() not in present])
        if response.mimetype == "text/html":  # pages show personal data and CSRF tokens
            headers["Cache-Control"] = "no-store"
        return response
