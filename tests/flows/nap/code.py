import time


def run(ctx, s: float = 0.1, tag: str = ""):
    time.sleep(s)
    return tag
