"""A long-running python task: one log line per second until done."""

import time


def run(ctx, seconds=30):
    started = time.monotonic()
    tick = 0
    while time.monotonic() - started < seconds:
        time.sleep(min(1.0, seconds - (time.monotonic() - started)))
        tick += 1
        print(f"tick {tick}")
    return {"slept_s": round(time.monotonic() - started, 3)}
