"""gunicorn settings; `gunicorn wsgi:app` from the repository root reads this file."""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
# Each worker is a process with its own connection pool; the app keeps nothing in worker
# memory, so any number of workers on any number of machines behave as one.
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2 + 1)))
worker_class = "sync"
# Long enough for a large CSV import (100,000 rows take about a minute on a small machine).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# On SIGTERM (a deploy), a worker may finish the request it is serving for this long.
graceful_timeout = 20
# Seconds an idle kept-alive connection may hold a sync worker: short, so a client that keeps
# a connection open and sends nothing frees the worker soon.
keepalive = 5
# Request line and headers: far above what a browser sends (our longest URLs are list filters
# of a few hundred bytes), small enough that a flood of headers cannot fill a worker's memory.
# These are gunicorn's defaults, written out so check-deploy sees them and nobody sets 0
# (unlimited) by accident.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# Behind a reverse proxy on another host, set FORWARDED_ALLOW_IPS to its address.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# Ends a worker after this many requests (with jitter, so not all at once): bounds any slow leak.
max_requests = 2000
max_requests_jitter = 200
# gunicorn's control socket lives at one path per user: two servers on one machine (several
# apps, or tests beside `make run`) would fight over it, and we do not use it.
control_socket_disable = True


def on_starting(server):
    """In the arbiter, before any worker: settings the app refuses stop gunicorn here, at once,
    with the reason (a worker would otherwise fail to load the app, be replaced, fail...)."""
    from hospital_app.deploy import refuse_unsafe_start

    try:
        refuse_unsafe_start(server.log)
    except SystemExit:
        if server.pidfile is not None:  # written just before this hook runs
            server.pidfile.unlink()
        raise
