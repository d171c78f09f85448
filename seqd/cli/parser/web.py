"""The command lines of ``seqctl web token|tokens|revoke``."""

from __future__ import annotations

from seqd.cli.parser.builder import Builder, Subs, duration

LOGIN_EPILOG = """\
The token acts as you: the dashboard shows and does what your role lets you do on
the socket, no more. It is printed once and stored only as a hash; it stops working
when it expires or is revoked.

examples:
  seqctl web token                     a token for 12 hours
  seqctl web token --ttl 7d --label laptop
  seqctl web tokens                    your unexpired tokens
  seqctl web revoke 3f9a0c12b4d1
"""


def add_web(b: Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "web", "tokens for the web dashboard (the seqd-web plugin)")
    token = b.sub(verbs, "token", "create a token to log in to the dashboard as you",
                  ("web", "token"), LOGIN_EPILOG)  # fmt: skip
    token.add_argument(
        "--ttl", type=duration, default=12 * 3600.0, metavar="D",
        help="how long it is valid: 90s, 30m, 8h, 7d (12h; 1m to 30d)",
    )  # fmt: skip
    token.add_argument("--label", default="", metavar="TEXT", help="what it is for")
    b.sub(verbs, "tokens", "list your unexpired tokens (an admin's: all)", ("web", "tokens"))
    revoke = b.sub(verbs, "revoke", "make a token unusable now", ("web", "revoke"))
    revoke.add_argument("id", metavar="ID", help="the token's id (seqctl web tokens)")
