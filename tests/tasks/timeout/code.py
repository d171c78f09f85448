import time


def run(ctx):
    time.sleep(60)
