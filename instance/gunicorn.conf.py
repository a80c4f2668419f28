# gunicorn's settings for regapp (README, «Deploying»):
#   gunicorn -c instance/gunicorn.conf.py --bind 0.0.0.0:8000 'regapp:create_app()'
# Command-line flags win over this file (--bind, --workers, --certfile/--keyfile for TLS).
import os
import tempfile

# Prometheus' multiprocess mode: the workers write their numbers to one empty folder,
# chosen before any of them imports prometheus_client (an operator may name their own)
_made_metrics_dir = None
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    _made_metrics_dir = tempfile.mkdtemp(prefix="regapp-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _made_metrics_dir

bind = "127.0.0.1:8000"
# One worker a core: each hashes passwords on one thread of lower priority, every core
# busy with argon2id in a rush, while its other threads answer pages first (issue 15;
# 2 × cores + 1 workers hash 5 at once on 2 cores, thrashing caches: 8% fewer a second)
workers = os.cpu_count() or 1
worker_class = "gthread"  # threads a worker: requests wait on SQL and on argon2
# Four: a new connection holds a thread until its first request arrives (gunicorn waits
# up to 5 s before handing it back), and a browser opens spare ones it may not use for
# seconds (Chromium over gunicorn's own TLS once found both of two threads taken so). Fewer would spare CPU and the p99 under a rush (issue
# 15: two threads, 5-7 ms; four, 6-18 ms) where nginx hands over whole requests only:
# `--threads 2` on the command line wins over this file.
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


def post_worker_init(worker):
    """The app is warmed (its templates compiled: ``regapp.pages.warm_up``) and what it
    made at start is put out of the garbage collector's sight: a full
    collection walked it all, 60 to 120 ms in which no thread of the worker ran (the p99
    of issue 15). What requests make is still collected. A thread waiting for the GIL
    asks for it after 1 ms, not 5 (``regapp.cli.settle``). On PostgreSQL a connection a
    thread is opened before the first request (the first ones waited for them)."""
    from regapp.cli import settle
    from regapp.db import warm

    warm(worker.wsgi, worker.cfg.threads)
    settle(worker.wsgi)


def child_exit(server, worker):
    """Prometheus' multiprocess mode: forget a worker's live gauges when it ends."""
    from regapp.metrics import mark_process_dead

    mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics folder this file made (one the operator named stays)."""
    if _made_metrics_dir:
        import shutil

        shutil.rmtree(_made_metrics_dir, ignore_errors=True)

