import time


def run(ctx, n: int = 1000):
    """Per-step seconds of ``n`` journaled no-op steps, measured around each call."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        ctx.step("noop", _noop)
        times.append(time.perf_counter() - t0)
    return times


def _noop():
    return None
