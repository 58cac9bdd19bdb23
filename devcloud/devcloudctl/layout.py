"""Where devcloud keeps things, all derived from the checkout's root folder."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """Paths of one checkout's devcloud; ``home`` is the git-ignored ``.devcloud/``."""

    repo: Path

    @classmethod
    def for_script(cls, script: str) -> Layout:
        # devcloud/devcloud -> repo root, whatever the caller's working directory
        return cls(Path(script).resolve().parent.parent)

    @property
    def source(self) -> Path:
        return self.repo / "devcloud"

    @property
    def templates(self) -> Path:
        return self.source / "templates"

    @property
    def shims(self) -> Path:
        return self.source / "shims"

    @property
    def requirements(self) -> Path:
        return self.source / "requirements.txt"

    @property
    def home(self) -> Path:
        # Resolved: git worktrees of one repository share a devcloud through a
        # ``.devcloud`` symlink, and every path written into its configs must be
        # the same whichever worktree runs ``up`` (else each ``up`` from another
        # worktree re-rendered every config and restarted every daemon).
        return (self.repo / ".devcloud").resolve()

    @property
    def venv(self) -> Path:
        return self.home / "venv"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def etc(self) -> Path:
        return self.home / "etc"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "log"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def clouds_yaml(self) -> Path:
        return self.home / "clouds.yaml"

    @property
    def lock_file(self) -> Path:
        return self.home / "lock"

    def checkout_suffix(self) -> str:
        """A short, stable name for this checkout, used in database and vhost names."""
        return hashlib.sha256(str(self.repo).encode()).hexdigest()[:8]
