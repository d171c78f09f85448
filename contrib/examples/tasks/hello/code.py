"""The smallest python task: typed inputs become the task's input schema."""


def run(ctx, name: str = "world", excited: bool = False) -> str:
    ctx.log(f"greeting {name}")
    return f"Hello, {name}{'!' if excited else '.'}"
