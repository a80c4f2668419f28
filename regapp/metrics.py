"""Prometheus metrics at ``/metrics`` when ``METRICS_ENABLED`` (prometheus-client).

Counters are counted in every process whether or not they are shown. Under gunicorn,
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder before the workers start (the
gunicorn config in ``instance/`` does): each worker writes its numbers there and a
scrape of any worker adds them all up. The queue's depth is read from the database at
scrape time, so every worker tells the same.
"""

from __future__ import annotations

import os
import time

from flask import Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("regapp_requests", "HTTP requests answered, by endpoint and status",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("regapp_request_seconds", "Time to answer a request, by endpoint",
                    ["endpoint"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
CODES_SENT = Counter("regapp_codes_sent", "One-time codes queued for sending, by purpose",
                     ["purpose"])
DELIVERIES = Counter("regapp_deliveries", "Delivery attempts by channel and outcome "
                     "(sent, retried, failed, refused)", ["channel", "outcome"])
REGISTRATIONS = Counter("regapp_registrations", "Registrations completed, by flow (link, form)",
                        ["flow"])
REFUSALS = Counter("regapp_refusals", "Refused registration attempts, by reason (R31)",
                   ["reason"])


def mark_process_dead(pid):
    """gunicorn's ``child_exit``: drop a finished worker's live values (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


class QueueDepth:
    """Messages waiting to go out, by channel, read when scraped."""

    def collect(self):
        from peewee import fn

        from regapp.models import Message

        family = GaugeMetricFamily("regapp_queue_depth", "Messages not yet delivered, by channel",
                                   labels=["channel"])
        waiting = (Message.select(Message.channel, fn.COUNT(Message.id))
                   .where(Message.status.in_(["pending", "sending"]))
                   .group_by(Message.channel).tuples())
        counts = dict(waiting)
        for channel in ("sms", "email"):
            family.add_metric([channel], counts.get(channel, 0))
        yield family


def _exposition():
    """This process's numbers (or every worker's, in multiprocess mode), then the queue."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    queue = CollectorRegistry()
    queue.register(QueueDepth())
    return generate_latest(counted) + generate_latest(queue)


def init_app(app):
    """Time and count every request; serve ``/metrics`` when ``METRICS_ENABLED``."""

    @app.before_request
    def _start_clock():
        g.request_started = time.perf_counter()

    @app.after_request
    def _count(response):
        endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        if "request_started" in g:
            LATENCY.labels(endpoint).observe(time.perf_counter() - g.request_started)
        return response

    if app.config.get("METRICS_ENABLED"):
        app.add_url_rule("/metrics", "metrics", _metrics)


def _metrics():
    return Response(_exposition(), mimetype=CONTENT_TYPE_LATEST)
