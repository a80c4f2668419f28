# gunicorn's settings for regapp (README, «Deploying»):
#   gunicorn -c instance/gunicorn.conf.py --bind 0.0.0.0:8000 'regapp:create_app()'
# Command-line flags win over this file (--bind, --workers, --certfile/--keyfile for TLS).
import os

from regapp.metrics import mark_process_dead

bind = "127.0.0.1:8000"
workers = 2 * (os.cpu_count() or 1) + 1
worker_class = "gthread"  # a few threads a worker: requests wait on SQL and argon2
threads = 4
timeout = 30
graceful_timeout = 30
keepalive = 5
# Trust in proxy headers comes from the app's PROXY_HOPS alone, never from gunicorn too
forwarded_allow_ips = ""
# The app logs one line per request itself (LOG_FORMAT); no second access log
accesslog = None
errorlog = "-"
# Limits on what a client may send before the app sees it
limit_request_line = 8190
limit_request_fields = 100


def child_exit(server, worker):
    """Prometheus' multiprocess mode: forget a worker's live gauges when it ends."""
    mark_process_dead(worker.pid)
