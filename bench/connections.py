"""Why parallel runs met ``ConnectFailure`` from devcloud, measured (a script that prints numbers).

``--workers`` threads each make ``--requests`` cheap Neutron reads, pausing
around 2 s between them: gunicorn (devcloud's API server) closes a kept-alive
connection after 2 s idle, and a request sent on it as it closes fails with
``RemoteDisconnected``, which keystoneauth reports as ``ConnectFailure``.

Same run, same cloud, one after the other:
* baseline — plain openstacksdk as ngc-pilot used it: one connection (one
  token, one pool) per worker, no connect retries;
* ngc-pilot — ``provisioner.openstack.connect``: one shared Keystone session,
  a blocking pool of ``ENDPOINT_CONCURRENCY`` per endpoint, connect retries.

    python bench/connections.py [--workers 8] [--requests 15]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openstack
from arguments import count
from keystoneauth1 import exceptions as ks_exceptions
from openstack.config import loader

from provisioner.openstack.connection import connect

CLOUDS = Path(__file__).resolve().parent.parent / ".devcloud" / "clouds.yaml"


def plain() -> Any:
    config = loader.OpenStackConfig(config_files=[str(CLOUDS)], load_envvars=False)
    return openstack.connection.Connection(config=config.get_one(cloud="devcloud"))


def shared() -> Any:
    return connect("devcloud", CLOUDS)


def run(make: Callable[[], Any], workers: int, requests: int) -> tuple[int, int, float, str]:
    errors: collections.Counter[str] = collections.Counter()
    done = [0]

    def worker(seed: int) -> None:
        pace = random.Random(seed)
        conn = make()
        for _ in range(requests):
            try:
                list(conn.network.networks(name="no-such-network"))
                done[0] += 1
            except ks_exceptions.ConnectFailure as exc:
                errors[str(exc)[-70:]] += 1
            time.sleep(pace.uniform(1.8, 2.2))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0], sum(errors.values()), time.perf_counter() - started, f"{os.getloadavg()[0]:.2f}"


def main() -> None:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=count(), default=8)
    parser.add_argument("--requests", type=count(), default=15)
    args = parser.parse_args()
    print("| connection | requests ok | ConnectFailure | wall (s) | load |")
    print("|---|---:|---:|---:|---:|")
    for name, make in (("plain openstacksdk, one per worker", plain), ("ngc-pilot", shared)):
        ok, failed, wall, load = run(make, args.workers, args.requests)
        print(f"| {name} | {ok} | {failed} | {wall:.1f} | {load} |")


if __name__ == "__main__":
    main()
