"""The worker's own ``/metrics``: ``placefund worker --metrics-port PORT`` serves this
process's counts (the donations and postings its jobs commit, the jobs it runs, its threads)
in Prometheus' text format, from a thread of the worker.

prometheus_client's threaded WSGI server (one thread per scrape), with the same rule of who
may read as the web's ``/metrics`` (foundation.metrics.may_read): the operator's bearer token
when PLACEFUND_METRICS_TOKEN is set, else this machine only. Here, in the composition root,
because foundation and jobs speak no HTTP.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.exposition import ThreadingWSGIServer

from foundation import metrics


def is_loopback_host(host: str) -> bool:
    """Whether every address ``host`` names is this machine's loopback. Raises ``OSError``
    (``socket.gaierror``) for a name that does not resolve."""
    found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return bool(found) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in found)


_REFUSALS = {
    401: ("401 Unauthorized", b"The metrics need the bearer token the operator set.\n"),
    404: ("404 Not Found", b"There is no such page.\n"),
}


def endpoint(token: str | None):
    """A WSGI app answering ``GET /metrics`` with this process's ``exposition()`` to whoever
    ``may_read`` lets in: what ``serve`` runs for ``placefund worker --metrics-port``."""

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            status = 404
        elif environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        else:
            status = metrics.may_read(
                token,
                authorization=environ.get("HTTP_AUTHORIZATION", ""),
                remote_addr=environ.get("REMOTE_ADDR"),
                forwarded="HTTP_X_FORWARDED_FOR" in environ or "HTTP_FORWARDED" in environ,
            )
        if status != 200:
            line, body = _REFUSALS[status]
            headers = [("Content-Type", "text/plain; charset=utf-8")]
            if status == 401:
                headers.append(("WWW-Authenticate", 'Bearer realm="metrics"'))
            start_response(line, headers)
            return [body]
        body = metrics.exposition()
        start_response(
            "200 OK", [("Content-Type", metrics.CONTENT_TYPE), ("Cache-Control", "no-store")]
        )
        return [body if environ["REQUEST_METHOD"] == "GET" else b""]

    return app


class _Quiet(WSGIRequestHandler):
    """No line per scrape on stderr: the worker's log is JSON lines about its jobs."""

    def log_message(self, format, *args) -> None:
        return None


def serve(host: str, port: int, *, token: str | None) -> WSGIServer:
    """Answer ``/metrics`` on ``host``:``port`` from a daemon thread of this process (one
    thread per scrape, prometheus_client's server class). Raises ``OSError`` when the
    address cannot be had (in use, not this machine's, a name that does not resolve), before
    any thread starts; ``shutdown()`` the returned server to stop it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, address = infos[0][0], infos[0][4][0]

    class Server(ThreadingWSGIServer):
        address_family = family

    server = make_server(address, port, endpoint(token), Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
