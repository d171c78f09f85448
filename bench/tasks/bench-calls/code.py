import time


def run(ctx, n: int = 1000):
    """Per-call seconds of ``n`` round trips to the daemon that write nothing."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            ctx.call("bench.nothing")
        except ctx.CallError:
            pass
        times.append(time.perf_counter() - t0)
    return times
