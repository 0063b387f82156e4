"""Flower configuration: Flower executes this file from the working directory at start.

Flower shows task arguments and can revoke tasks, so it never runs without authentication:
set FLOWER_BASIC_AUTH=user:password (Flower reads FLOWER_* variables itself) or configure
OAuth with FLOWER_AUTH / FLOWER_AUTH_PROVIDER.
"""

import os
import sys


def _basic_auth_problem(value: str) -> str:
    """Why FLOWER_BASIC_AUTH (comma-separated user:password entries) is unusable, else ""."""
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    if not entries:
        return "set FLOWER_BASIC_AUTH=user:password"
    for entry in entries:
        user, sep, password = entry.partition(":")
        if not (user.strip() and sep and password):
            return (
                "every FLOWER_BASIC_AUTH entry must read user:password with both parts set "
                "(set FLOWER_BASIC_AUTH=user:password)"
            )
    return ""


_oauth = (
    os.environ.get("FLOWER_AUTH", "").strip() and os.environ.get("FLOWER_AUTH_PROVIDER", "").strip()
)
_problem = "" if _oauth else _basic_auth_problem(os.environ.get("FLOWER_BASIC_AUTH", ""))
if _problem:
    sys.stderr.write(
        f"capitolscope: Flower refuses to start without authentication: {_problem} "
        "(or FLOWER_AUTH and FLOWER_AUTH_PROVIDER)\n"
    )
    sys.exit(2)

# Forget workers that went away instead of listing them as offline forever.
purge_offline_workers = 300
