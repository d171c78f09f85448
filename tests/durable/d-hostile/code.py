def run(ctx):
    bad = {
        "step-shape": ("step", {"not": "a list"}),
        "step-json": ("step", [1, "s", b"{not json", None]),
        "step-empty": ("step", [1, "s", None, None]),
        "step-name": ("step", [1, "x" * 500, b"null", None]),
        "tool-params": ("tool", [1, "kv.get", b"[1]"]),
        "child-input": ("child", [1, "d-count", b"7", True, False]),
        "wait-nothing": ("wait", [1, None, 1, None, None, False]),
        "wait-negative": ("wait", [1, None, 1, -5.0, None, False]),
        "wait-ordinal": ("wait", [1, "go", 0, None, None, False]),
        "unknown": ("nope", None),
    }
    seen = {}
    for label, (op, args) in bad.items():
        try:
            ctx.call(op, args)
            seen[label] = "accepted"
        except ctx.CallError as exc:
            seen[label] = exc.type
    seen["then"] = ctx.step("fine", lambda: "ok")
    return seen
