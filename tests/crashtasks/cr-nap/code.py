import time


def run(ctx, s: float = 2.0):
    time.sleep(s)
    return s
