"""Helper process for the throughput benchmarks:
``python -m bench.loadclient SOCKET TASK COUNT DEADLINE_S``.

One connection, ``runs.submit`` with ``wait: true`` back to back, until COUNT runs ended
or DEADLINE_S passed. Prints ``ready`` after a warm-up, waits for ``go`` on stdin, then
prints one JSON line: runs done, runs not succeeded, its start/end on the system-wide
monotonic clock (so the parent can span all clients) and the CPU time it used.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from seqd.client import Client

logger = logging.getLogger(__name__)

WARMUP = 3


def main() -> None:
    path, task, count, deadline_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    with Client(path, timeout=60) as client:
        for _ in range(WARMUP):
            client.submit(task, wait=True, timeout_s=30)
        print("ready", flush=True)
        sys.stdin.readline()
        done = failed = 0
        cpu0 = time.process_time()
        start = time.monotonic()
        deadline = start + deadline_s
        while done < count and time.monotonic() < deadline:
            run = client.submit(task, wait=True, timeout_s=30)
            done += 1
            if run.status != "succeeded":
                failed += 1
        end = time.monotonic()
        cpu = time.process_time() - cpu0
    result = {"n": done, "failed": failed, "start": start, "end": end, "cpu": cpu}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
