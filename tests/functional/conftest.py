"""The CLI, run in-process, against a database of each backend."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from ngc_pilot.cli.main import run


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]):
        self.url = url
        self.capsys = capsys

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = run(["--db", self.url, "--actor", "tester", *args])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(database, capsys) -> Cli:
    return Cli(database.url, capsys)
