"""``monitor serve``: the scheduler service until SIGTERM/SIGINT, with its HTTP endpoint
(``[serve] http_port``) and systemd's notify protocol (READY, WATCHDOG while it makes progress,
STOPPING)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import TextIO

from monitor.config import Config
from monitor.metrics import Metrics
from monitor.scheduler import Jobs, Service, Slots, next_times
from monitor.sdnotify import notify, watchdog_interval
from monitor.store import db

log = logging.getLogger(__name__)


def serve_command(config: Config, *, out: TextIO, jobs: Jobs | None = None,
                  slots: Slots | None = None) -> int:
    """Until SIGTERM/SIGINT. ``jobs`` and ``slots`` (digest triggers instead of the config's
    times) are for tests that drive the service without waiting for a clock time."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the running job", signum)
        stop.set()

    # The state must be usable before the service promises anything (a read-only or damaged
    # database would otherwise fail every job quietly): the one open every run makes, once.
    with db.open_state(config, write=True):
        pass
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    metrics = Metrics(collect_every_minutes=config.serve.collect_every_minutes)
    web = None
    if config.serve.http_port:
        from monitor.unsubscribe import add_routes
        from monitor.web import WebServer, service_routes

        routes = service_routes(metrics)
        add_routes(routes, config)
        web = WebServer(routes, config.serve.http_host, config.serve.http_port).start()
    service = Service(config, jobs, metrics=metrics, slots=slots)
    service.start()
    metrics.scheduler_running(True)
    summary = (f"collecting every {config.serve.collect_every_minutes} min; next: "
               + "; ".join(f"{k} {v}" for k, v in next_times(config).items()))
    if web is not None:
        summary += "; http://{}:{}/healthz".format(*web.address)
    out.write(f"monitor serve: {summary}\n")
    out.flush()
    notify(f"READY=1\nSTATUS={summary}")
    every = watchdog_interval()
    last_ping = 0.0
    # Wake up now and then: the OS may deliver the signal to a scheduler thread, and Python runs
    # handlers only in the main thread, which a plain wait() would never leave.
    while not stop.wait(0.5):
        # The watchdog is fed only while the service makes progress (the scheduler runs and a
        # collect finished lately): a hung service is restarted by systemd.
        if every is not None and time.monotonic() - last_ping >= every:
            if metrics.health().healthy:
                notify("WATCHDOG=1")
            last_ping = time.monotonic()
    notify("STOPPING=1")
    service.stop()
    metrics.scheduler_running(False)
    if web is not None:
        web.stop()
    out.write("monitor serve: stopped\n")
    return 0
