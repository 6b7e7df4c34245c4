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
graceful_timeout = 20
keepalive = 5
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
