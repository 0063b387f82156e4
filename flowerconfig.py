"""Flower configuration: Flower executes this file from the working directory at start.

Flower shows task arguments and can revoke tasks, so it never runs without authentication:
set FLOWER_BASIC_AUTH=user:password (Flower reads FLOWER_* variables itself) or configure
OAuth with FLOWER_AUTH / FLOWER_AUTH_PROVIDER.
"""

import os
import sys

if not os.environ.get("FLOWER_BASIC_AUTH", "").strip() and not (
    os.environ.get("FLOWER_AUTH", "").strip() and os.environ.get("FLOWER_AUTH_PROVIDER", "").strip()
):
    sys.stderr.write(
        "capitolscope: Flower refuses to start without authentication: "
        "set FLOWER_BASIC_AUTH=user:password (or FLOWER_AUTH and FLOWER_AUTH_PROVIDER)\n"
    )
    sys.exit(2)

# Forget workers that went away instead of listing them as offline forever.
purge_offline_workers = 300
