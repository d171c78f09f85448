import time


def run(ctx):
    return time.time()
