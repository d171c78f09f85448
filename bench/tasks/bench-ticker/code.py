import time


def run(ctx, n=50, interval_s=0.02, pause_s=0.3):
    time.sleep(pause_s)
    for _ in range(n):
        print(repr(time.time()))
        time.sleep(interval_s)
