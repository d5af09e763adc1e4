"""Helpers for tests and benchmarks: spawn `cog robot serve` as a subprocess on loopback.

The server binds port 0 and prints its endpoint, so there is no free-port race. Every spawn is
a context manager that kills the process (and waits) whatever happens, and every read has a
deadline, so nothing here can hang a test run.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    endpoint: str
    lines: queue.Queue = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    def read_output(self, timeout_s: float = 0.2) -> str:
        """Everything the server printed so far (waits at most ``timeout_s`` for more)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.output.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return "".join(self.output)


def _pump(stream, lines: queue.Queue) -> None:
    # A thread reads the pipe: select() on a buffered text pipe misses already-buffered lines.
    for line in iter(stream.readline, ""):
        lines.put(line)


@contextlib.contextmanager
def spawn_server(
    *args: str, start_timeout_s: float = 60.0, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """Run ``python -m cog robot serve --bind tcp://127.0.0.1:0 ARGS...``."""
    cmd = [sys.executable, "-u", "-m", "cog", "robot", "serve", "--bind", "tcp://127.0.0.1:0"]
    cmd += list(args)
    proc_env = dict(os.environ)
    proc_env.update(env or {})
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=proc_env
    )
    server = ServerProcess(proc=proc, endpoint="")
    threading.Thread(target=_pump, args=(proc.stdout, server.lines), daemon=True).start()
    try:
        deadline = time.monotonic() + start_timeout_s
        while not server.endpoint:
            left = deadline - time.monotonic()
            if left <= 0 or (proc.poll() is not None and server.lines.empty()):
                raise RuntimeError(f"robot server did not start: {server.read_output(0.5)[-2000:]}")
            try:
                line = server.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            server.output.append(line)
            if line.startswith("robot server ready on "):
                server.endpoint = line.split(" on ", 1)[1].strip()
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def spawn_python(code: str) -> Iterator[subprocess.Popen]:
    """Run a snippet in a child python; killed on exit. Used to kill a client mid-episode."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
