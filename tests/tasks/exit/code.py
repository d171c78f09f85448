import os


def run(ctx, code: int = 3):
    os._exit(code)
