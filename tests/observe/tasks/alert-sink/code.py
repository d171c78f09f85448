def run(ctx, alert: dict):
    return {"rule": alert["rule"], "state": alert["state"]}
