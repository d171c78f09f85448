import time


def _append(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")
    return line


def run(ctx, path: str, steps: int = 5, pause: float = 0.3):
    done = []
    for i in range(steps):
        done.append(ctx.step(f"s{i}", _append, path, f"{ctx.run_id}:{i}"))
        time.sleep(pause)  # not a step: work between steps
    return len(done)
