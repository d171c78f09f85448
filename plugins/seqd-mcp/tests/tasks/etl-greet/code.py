def run(ctx, name: str, shout: bool = False) -> str:
    ctx.log(f"greeting {name}")
    greeting = f"Hello, {name}"
    return greeting.upper() if shout else greeting
