import time


def run(ctx):
    print("blocking", flush=True)
    while True:
        time.sleep(3600)
