"""A load client run INSIDE the Compose network (`python - URL SECONDS THREADS < this file`), standard
library only, so it runs in any of the stack's images.

Why inside: a client on the host goes through Docker's port proxy, which accepts a connection even
when the container behind it no longer listens and then drops it, so a refused connection would look
like a lost request. On the Compose network a stopped listener refuses cleanly (ECONNREFUSED), and a
request that was sent and got no answer is exactly a lost in-flight request.

Prints one JSON object: counts per outcome, and the latest start time of a request that completed.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit

BODY = json.dumps({"inputs": [[float((i * 7 + j) % 17) for j in range(64)] for i in range(4)]}).encode()


NOT_ACCEPTED = "not accepted"


def one_request(host: str, port: int, path: str) -> str:
    """'ok'; NOT_ACCEPTED when no connection was made (refused once the listener closed, a name that no
    longer resolves, a connect that times out while the container's network goes away): nothing was
    sent, so nothing was lost; else what went wrong with a request the server had accepted."""
    connection = http.client.HTTPConnection(host, port, timeout=3)
    try:
        connection.connect()
    except OSError:
        return NOT_ACCEPTED
    try:
        assert connection.sock is not None
        connection.sock.settimeout(15)  # an accepted request gets its full time to be answered
        connection.request("POST", path, BODY, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return "ok" if response.status == 200 else f"status {response.status}"
    except Exception as error:  # sent, then no (whole) answer: a lost in-flight request
        return f"lost: {type(error).__name__}: {error}"[:200]
    finally:
        connection.close()


def main() -> None:
    url, seconds, threads = urlsplit(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    host, port, path = url.hostname or "serving", url.port or 80, url.path or "/"
    counts: dict[str, int] = {}
    last_ok_start = 0.0
    lock = threading.Lock()
    deadline = time.time() + seconds

    def loop() -> None:
        nonlocal last_ok_start
        while time.time() < deadline:
            started = time.time()
            outcome = one_request(host, port, path)
            with lock:
                counts[outcome] = counts.get(outcome, 0) + 1
                if outcome == "ok":
                    last_ok_start = max(last_ok_start, started)
            if outcome == NOT_ACCEPTED:
                time.sleep(0.05)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({"counts": counts, "last_ok_start": last_ok_start}))


if __name__ == "__main__":
    main()
