import time


def run(ctx, seconds: float = 0.3):
    start = time.time()
    time.sleep(seconds)
    return [start, time.time()]
