import time


def run(ctx):
    print("started", flush=True)
    while True:
        time.sleep(3600)
