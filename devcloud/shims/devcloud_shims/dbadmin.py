"""Create, check and drop one checkout's MariaDB databases and user.

Run by the devcloud controller inside the virtualenv (it brings PyMySQL):

    python -m devcloud_shims.dbadmin ACTION < request.json

``request.json`` names the admin connection candidates, the databases, the
user and its password. Prints one JSON object. Only databases whose names are
passed in are touched; the user only gets rights on ``dc_<suffix>_*``.
"""

import json
import sys

import pymysql


def _connect_admin(candidates):
    errors = []
    for c in candidates:
        try:
            kwargs = {"user": c.get("user", "root"), "password": c.get("password", "")}
            if c.get("socket"):
                kwargs["unix_socket"] = c["socket"]
            else:
                kwargs["host"] = c["host"]
                kwargs["port"] = int(c["port"])
            return pymysql.connect(connect_timeout=3, autocommit=True, **kwargs), c
        except Exception as e:  # noqa: BLE001 - report every way we tried
            errors.append(f"{c}: {e}")
    raise SystemExit(json.dumps({"ok": False, "error": "no admin access", "tried": errors}))


def _ident(name):
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"refusing odd identifier {name!r}")
    return f"`{name}`"


def main(action):
    req = json.load(sys.stdin)
    conn, used = _connect_admin(req["admin"])
    cur = conn.cursor()
    dbs = req.get("databases", [])
    user = req.get("user")
    hosts = ("127.0.0.1", "localhost")
    out = {"ok": True, "admin": used}
    if action == "probe":
        cur.execute("SELECT VERSION()")
        out["version"] = cur.fetchone()[0]
    elif action == "ensure":
        if req.get("recreate"):
            for db in dbs:
                cur.execute(f"DROP DATABASE IF EXISTS {_ident(db)}")
        for db in dbs:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {_ident(db)} CHARACTER SET utf8mb3")
        prefix = req["grant_prefix"].replace("_", "\\_")
        for host in hosts:
            cur.execute(
                "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, req["password"])
            )
            cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, req["password"]))
            cur.execute(f"GRANT ALL PRIVILEGES ON `{prefix}%%`.* TO %s@%s", (user, host))
    elif action == "exists":
        cur.execute("SHOW DATABASES")
        present = {row[0] for row in cur.fetchall()}
        out["missing"] = [db for db in dbs if db not in present]
    elif action == "drop":
        for db in dbs:
            cur.execute(f"DROP DATABASE IF EXISTS {_ident(db)}")
        if user:
            for host in hosts:
                cur.execute("DROP USER IF EXISTS %s@%s", (user, host))
    else:
        raise SystemExit(f"unknown action {action}")
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
