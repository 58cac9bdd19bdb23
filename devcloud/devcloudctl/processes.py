"""Start detached daemons and stop exactly the ones devcloud started.

Each daemon runs in a session of its own (``setsid``), with stdin from
/dev/null and output into ``.devcloud/log/NAME.log``, so the caller's shell
never waits on it. Its PID file, ``.devcloud/run/NAME.pid``, holds the PID and
the kernel's start time of that process: a PID that was recycled by an
unrelated process never matches, so nothing else is ever signalled. Stopping
signals the leader and every process still in its process group that started
after it (workers, forked children), and nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after its last ')'
    return raw[raw.rindex(")") + 2 :].split()


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    if fields is None or fields[0] == "Z":
        return None
    return int(fields[19])  # field 22 of /proc/PID/stat: start time in clock ticks since boot


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the live processes ``pids`` have used so far."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # fields 14 and 15: utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _group_members(pgid: int, leader_start: int) -> list[int]:
    """Live processes of the group that devcloud's leader ``pgid`` started.

    Linux never hands out a PID still in use as a process group ID, so while any
    member of our group lives the PID cannot have been recycled; if it was, the
    new owner leads the group under another start time, and the group is not ours.
    """
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        fields = _stat_fields(pid)
        if fields is None or fields[0] == "Z" or int(fields[2]) != pgid:
            continue
        started = int(fields[19])
        if pid == pgid and started != leader_start:
            return []
        if started >= leader_start:
            members.append(pid)
    return members


@dataclass(frozen=True)
class Handle:
    name: str
    pid: int
    start_time: int


class Processes:
    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def recorded(self, name: str) -> Handle | None:
        try:
            pid_text, start_text = self.pid_file(name).read_text().split()
            return Handle(name, int(pid_text), int(start_text))
        except (OSError, ValueError):
            return None

    def running(self, name: str) -> Handle | None:
        """The recorded process if it is still the one devcloud started, else None."""
        handle = self.recorded(name)
        if handle is None:
            return None
        if _start_time(handle.pid) != handle.start_time:
            return None
        return handle

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> Handle:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file(name), "ab") as log:
            log.write(
                f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode()
            )
            log.flush()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
            )
        start_time = None
        for _ in range(100):
            start_time = _start_time(proc.pid)
            if start_time is not None:
                break
            time.sleep(0.01)
        if start_time is None:
            raise RuntimeError(f"{name} exited at once; see {self.log_file(name)}")
        self.pid_file(name).write_text(f"{proc.pid} {start_time}\n")
        return Handle(name, proc.pid, start_time)

    def started_at(self, name: str) -> float | None:
        """Wall-clock time the recorded process started (from its start time since boot)."""
        handle = self.running(name)
        if handle is None:
            return None
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
        return time.time() - uptime + handle.start_time / ticks

    def group_cpu(self, name: str) -> float:
        """CPU seconds used so far by ``name``'s live process group (0 when it is not running)."""
        handle = self.running(name)
        if handle is None:
            return 0.0
        return cpu_seconds(_group_members(handle.pid, handle.start_time))

    def alive(self, handle: Handle) -> bool:
        return _start_time(handle.pid) == handle.start_time

    def stop(self, name: str, timeout: float = 20.0) -> bool:
        """Stop ``name`` and its process group; True if anything was running."""
        return bool(self.stop_many([name], timeout))

    def stop_many(self, names: list[str], timeout: float = 20.0) -> list[str]:
        """SIGTERM every named daemon's group at once, SIGKILL what is left after ``timeout``.

        Returns the names that had something running.
        """
        handles = [h for h in (self.recorded(n) for n in names) if h is not None]
        stopped = []
        for handle in handles:
            members = _group_members(handle.pid, handle.start_time)
            if members:
                stopped.append(handle.name)
            for pid in members:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(_group_members(h.pid, h.start_time) for h in handles):
                break
            time.sleep(0.2)
        for handle in handles:
            for pid in _group_members(handle.pid, handle.start_time):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.pid_file(handle.name).unlink(missing_ok=True)
        return stopped

    def tail(self, name: str, lines: int = 25) -> str:
        try:
            text = self.log_file(name).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
