"""CPU seconds and memory per party of a benchmark, read from /proc by a process of its own."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds, RSS bytes) of a process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, int(fields[21]) * PAGE


def _children(pid: int) -> list[int]:
    """Child pids, from every thread's list (a child belongs to the thread that started it)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                found += map(int, f.read().split())
    return found


class ProcWatch:
    """Samples /proc every ``every`` s: CPU seconds and RSS per party.

    Parties: this process alone, its descendants (the parse workers), and the process trees of
    PostgreSQL and Dovecot. CPU a process used after its last sample before it ended is missed.
    Walks only those trees (``/proc/PID/task/*/children``). The sampling runs in a process of
    its own (this file run as a script, importing only the standard library): as a thread of
    the benchmark, which also runs the server under test, it held the GIL for about 4% of the
    sync (py-spy), slowing the very server it measured.
    """

    def __init__(self, roots: dict[str, int], every: float = 0.1):
        self.roots, self.every = {"this process": os.getpid(), **roots}, every
        self.peak_rss: dict[str, int] = {}
        self.peak_total = 0
        self.marks: list[dict[str, float]] = []
        self.start_rss: dict[str, int] = {}  # RSS by party at the first sample
        self.peak_marked: dict[str, int] = {}  # peak RSS by party (and "all of ours") up to the last mark
        self._child: subprocess.Popen | None = None

    def start(self) -> "ProcWatch":
        self._child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), json.dumps([self.roots, self.every])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._child.stdout.readline().strip() != "ready":  # its first sample is the base
            raise RuntimeError("the process watcher did not start")
        return self

    def mark(self) -> None:
        """Note the CPU seconds per party now (at the next sample); ``stop`` answers them in ``marks``."""
        self._child.stdin.write("mark\n")
        self._child.stdin.flush()

    def stop(self) -> dict[str, float]:
        """CPU seconds per party since start()."""
        out, _ = self._child.communicate("stop\n")
        got = json.loads(out)
        self.peak_rss, self.peak_total, self.marks = got["peak_rss"], got["peak_total"], got["marks"]
        self.start_rss, self.peak_marked = got["start_rss"], got["peak_marked"]
        return got["cpu"]


def watch_procs(roots: dict[str, int], every: float) -> None:
    """The watcher process: samples until its stdin says stop, then prints what it saw."""
    me, watched = os.getpid(), roots["this process"]

    def sample() -> dict[int, tuple[str, float, int]]:
        out: dict[int, tuple[str, float, int]] = {}
        for party, root in roots.items():
            todo = [root]
            while todo:
                pid = todo.pop()
                if pid in out or pid == me or not pid or (st := _stat(pid)) is None:
                    continue
                out[pid] = ("parse workers" if party == "this process" and pid != watched else party, st[1], st[2])
                todo += _children(pid)
        return out

    base = {pid: cpu for pid, (_, cpu, _) in sample().items()}
    last: dict[int, tuple[str, float]] = {}
    peak_rss: dict[str, int] = {}
    peak_total = 0
    marks: list[dict[str, float]] = []
    stop, mark = threading.Event(), threading.Event()

    def listen() -> None:
        for line in sys.stdin:
            if line.strip() != "mark":
                break
            mark.set()
        stop.set()

    def cpu() -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, (label, seconds) in last.items():
            out[label] = out.get(label, 0.0) + seconds - base.get(pid, 0.0)
        return out

    start_rss: dict[str, int] = {}  # the first sample: what the parties held before the work
    peak_marked: dict[str, int] = {}  # the peaks up to the last mark
    threading.Thread(target=listen, daemon=True).start()
    print("ready", flush=True)
    while not stop.wait(every):
        rss: dict[str, int] = {}
        for pid, (label, seconds, size) in sample().items():
            last[pid] = (label, seconds)
            rss[label] = rss.get(label, 0) + size
        start_rss = start_rss or dict(rss)
        for label, size in rss.items():
            peak_rss[label] = max(peak_rss.get(label, 0), size)
        peak_total = max(peak_total, rss.get("this process", 0) + rss.get("parse workers", 0))
        if mark.is_set():
            mark.clear()
            marks.append(cpu())
            peak_marked = {**peak_rss, "all of ours": peak_total}
    got = {"cpu": cpu(), "marks": marks, "peak_rss": peak_rss, "peak_total": peak_total}
    print(json.dumps({**got, "start_rss": start_rss, "peak_marked": peak_marked}), flush=True)


if __name__ == "__main__":
    watch_procs(*json.loads(sys.argv[1]))
