"""Helpers shared by the benchmark scripts: run a command and measure its wall time, CPU and memory.

CPU comes from ``resource.getrusage(RUSAGE_CHILDREN)`` deltas around the run: it counts the command and
every descendant that was reaped (waited for) before the command exited, which is how process pools end.
Processes started earlier that stay alive during the run (a test web server, say) are not counted.
Peak memory is the largest sum of RSS over the command's process tree, sampled with psutil.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import psutil
except ImportError:  # a dev dependency: `pip install -e ".[dev]"` brings it
    raise SystemExit("the benchmarks need psutil: .venv/bin/pip install psutil") from None


@dataclass
class Measured:
    """What one measured command did."""

    returncode: int
    wall_s: float
    cpu_s: float  # user + system of the command and its reaped descendants
    peak_rss_bytes: int  # largest sampled sum of RSS over the process tree
    samples: int  # how many RSS samples were taken
    timed_out: bool = False
    process_peaks: dict | None = None  # pid -> (command name, largest sampled RSS of that one process)


class TreeRssSampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self.process_peaks: dict[int, tuple[str, int]] = {}
        self._stop_event = threading.Event()

    def sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            return
        total = 0
        for proc in procs:
            try:
                rss = proc.memory_info().rss
                if rss > self.process_peaks.get(proc.pid, ("", 0))[1]:
                    self.process_peaks[proc.pid] = (proc.name(), rss)
                total += rss
            except psutil.Error:  # exited between listing and reading
                pass
        self.samples += 1
        self.peak = max(self.peak, total)

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def kill_tree(proc: subprocess.Popen) -> None:
    """Ends a command started by `run_measured` and everything it started (its own session)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def run_measured(cmd: list[str], *, log_path: str, env: dict | None = None, cwd: str | None = None,
                 timeout: float = 600.0, interval: float = 0.05) -> Measured:
    """Runs `cmd` to completion (stdout and stderr to `log_path`) and measures it.

    The command gets its own session, so on a timeout or an error here the whole tree it started is ended.
    """
    with open(log_path, "wb") as log:
        cpu_before = _children_cpu_s()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
        sampler = TreeRssSampler(proc.pid, interval)
        sampler.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if proc.poll() is None:
                kill_tree(proc)
            wall = time.perf_counter() - start
            sampler.stop()
        cpu = _children_cpu_s() - cpu_before
    return Measured(proc.returncode, wall, cpu, sampler.peak, sampler.samples, timed_out, sampler.process_peaks)


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has been busy (all CPUs, from /proc/stat)."""
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    guest = getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)  # already inside user and nice on Linux
    return sum(t) - idle - guest


class MachineWatch:
    """The machine around one measured run: the 1-minute load average before and after, and the CPU that
    other processes used meanwhile (the machine's busy CPU less the run's own and this process's)."""

    def __init__(self):
        self.load_before = os.getloadavg()[0]
        self._busy, self._self = busy_cpu_s(), time.process_time()

    def finish(self, run_cpu_s: float, wall_s: float, also_cpu_s: float = 0.0) -> dict:
        """`also_cpu_s`: CPU of processes that belong to the measurement (a test server) but not to the run."""
        others = max(0.0, busy_cpu_s() - self._busy - run_cpu_s - also_cpu_s - (time.process_time() - self._self))
        return {"load_before": self.load_before, "load_after": os.getloadavg()[0], "others_cpu_s": others,
                "others_cores": others / wall_s if wall_s else None}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def wit_bin(fallback_module: bool = False) -> list[str]:
    """The `wit` command beside this interpreter, else on PATH; else `python -m wit_pipeline.cli` when
    `fallback_module`, or an error saying to install the project."""
    exe = Path(sys.executable).parent / "wit"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("wit")
    if found:
        return [found]
    if fallback_module:
        return [sys.executable, "-m", "wit_pipeline.cli"]
    raise RuntimeError("the `wit` command is not installed; run `make install` first")


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks clean up runs, servers and temp files."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)


def peer_venv(venv: Path, label: str) -> list[str]:
    """Create (or reuse) a peer tool's own virtualenv and return its `pip install` command; pip, setuptools and
    wheel are brought up to date first. Peers live apart from the project's venv: their pins clash with ours."""
    print(f"Installing {label} into {venv} (first run only) ...", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(pip + ["--upgrade", "pip", "setuptools", "wheel"], check=True)
    return pip
