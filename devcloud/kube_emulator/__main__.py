"""``python -m kube_emulator --port N --admin-token-file F``: run the emulator in the foreground.

devcloud's ``up`` starts it this way as a daemon; tests start it the same way
on a free port. The admin token is read from a file (0600) so it never shows
in a process listing. Port 0 picks a free port; the chosen one is printed.
With ``--state-file`` the objects survive a restart (devcloud uses it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .api import Emulator
from .server import make_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kube_emulator", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-token-file", type=Path, required=True)
    parser.add_argument(
        "--state-file",
        type=Path,
        help="keep every object in this JSON file across restarts (default: memory only)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    token = args.admin_token_file.read_text().strip()
    if not token:
        parser.error(f"{args.admin_token_file} is empty")
    server = make_server(Emulator(token, state_file=args.state_file), args.port)
    print(
        f"Kubernetes API emulator listening on http://127.0.0.1:{server.server_address[1]}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
