import os
import time


def run(ctx, key: str, gate: str = ""):
    stored = ctx.tool("kv.set", key=key, value={"v": 1})
    while gate and not os.path.exists(gate):
        time.sleep(0.02)
    got = ctx.tool("kv.get", key=key)
    try:
        ctx.tool("no.such.tool", x=1)
    except ctx.ToolFailed as exc:
        missing = exc.type
    return {"stored": stored, "got": got["value"], "missing": missing}
