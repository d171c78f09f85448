import time


def run(ctx, path: str, tag: str = "x", seconds: float = 0.0, fail: bool = False):
    time.sleep(seconds)
    if fail:
        raise ValueError("asked to fail")
    with open(path, "a") as f:
        f.write(tag + "\n")
    with open(path) as f:
        return sum(1 for _ in f)
