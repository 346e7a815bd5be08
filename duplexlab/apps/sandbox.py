"""The judge's sandbox: run one submission in its own process tree, within limits.

Meant for the student's own laptop, where the code submitted is the student's
own (the request policy keeps other web pages from submitting). Each
submission gets:

- its own session and process group, and on Linux, where one can be made, its
  own ``pids`` cgroup; at the time limit, past the output cap and when the lab
  stops, all of it is killed, grandchildren included;
- when the lab runs as root (containers, Colab, CI), the unprivileged user
  ``nobody`` (uid 65534), so it can neither leave its cgroup, nor read or
  signal the lab's process, nor raise its own limits. That needs a Python that
  ``nobody`` may run: this one, or else the system's Python of the same
  version (e.g. ``/usr/bin/python3.11`` when this one lives under ``/root``);
  without either it runs as root, and the verdict says so;
- a fresh temporary working directory, removed afterwards;
- an environment of its own (``PATH``, ``HOME`` and ``TMPDIR`` in that folder,
  a UTF-8 locale): nothing from the kernel's environment, no secrets;
- ``python -I`` (no user site-packages, no ``PYTHON*`` variables);
- the limits this operating system offers: CPU seconds, memory (``RLIMIT_AS``
  on Linux; a resident-memory watchdog elsewhere on POSIX), processes (a pids
  cgroup, else ``RLIMIT_NPROC``, which does not bind for root), file size and
  open files;
- its output read as it comes: the first ``keep`` bytes of each stream are
  kept, the rest counted, and past ``cap`` bytes in all the code is killed.

:func:`enforced_limits` says which of these hold on this machine; every
verdict carries that list. Not protected (when the lab does not run as root):
reading the student's own files, the network, and the student's other
processes: code running as the student can read their environment through
``/proc`` and signal them by pid, and where the cgroup was delegated to the
student it could lift the process limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Limits", "Outcome", "enforced_limits", "explain", "isolation", "run", "verdict"]

CHILD = Path(__file__).with_name("sandbox_child.py")
NOBODY = 65534  # the uid submissions run as when the lab runs as root
_names = itertools.count(1)


@dataclass(frozen=True)
class Limits:
    """What one submission may use.

    Args:
        time: wall-clock seconds before the whole process tree is killed.
        memory: bytes of memory (address space on Linux).
        processes: processes and threads at once, the submission's first one included.
        file_size: bytes in any file it writes.
        open_files: files and sockets open at once.
        keep: bytes of stdout and of stderr kept for the verdict.
        cap: bytes of output in all, past which the code is killed.
    """

    time: float = 2.0
    memory: int = 256 * 1024 * 1024
    processes: int = 64
    file_size: int = 1024 * 1024
    open_files: int = 64
    keep: int = 64 * 1024
    cap: int = 1024 * 1024


@dataclass
class Outcome:
    """How a submission ended: the verdict, what it printed, and how long it ran."""

    verdict: str  # ok, runtime-error, time-limit, memory-limit, output-limit
    output: str
    error: str
    returncode: int | None
    seconds: float
    output_bytes: int
    limits: dict[str, str] = field(default_factory=dict)


# -- what this machine can enforce ---------------------------------------------


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _cgroup_parent() -> Path | None:
    """A folder where this process may make pids cgroups, or None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        number, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):  # cgroup v1
            candidates.append(Path("/sys/fs/cgroup/pids") / path.lstrip("/"))
        elif number == "0" and controllers == "":  # cgroup v2
            candidates.append(Path("/sys/fs/cgroup") / path.lstrip("/"))
    for parent in candidates:
        probe = parent / f"duplexlab-probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            continue
        try:
            if (probe / "pids.max").exists():
                return parent
            if (parent / "cgroup.subtree_control").exists():
                with contextlib.suppress(OSError):
                    (parent / "cgroup.subtree_control").write_text("+pids")
                if (probe / "pids.max").exists():
                    return parent
        finally:
            with contextlib.suppress(OSError):
                probe.rmdir()
    return None


@functools.cache
def cgroup_parent() -> Path | None:
    """The cgroup folder for submissions, found once per process."""
    return _cgroup_parent()


def _reachable(path: Path) -> bool:
    """Whether a user who is neither owner nor group may use ``path`` (every folder on the way)."""
    try:
        path = path.resolve()
        if not path.stat().st_mode & stat.S_IROTH and not path.is_file():
            return False
        if path.is_file() and not path.stat().st_mode & stat.S_IXOTH:
            return False
        return all(p.stat().st_mode & stat.S_IXOTH for p in path.parents)
    except OSError:
        return False


@functools.cache
def nobody_python() -> str | None:
    """A Python of this version that ``nobody`` may run, or None (found once per process)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if _reachable(Path(sys.executable)) and _reachable(stdlib):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/bin", "/usr/local/bin", "/bin"):
        candidate = Path(folder) / version
        if candidate.exists() and _reachable(candidate):
            return str(candidate)
    return None


def _drops_to_nobody() -> bool:
    return _is_root() and nobody_python() is not None


def _user_processes() -> int:
    """Processes this user runs now (Linux), for an ``RLIMIT_NPROC`` above them."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def enforced_limits(limits: Limits = Limits()) -> dict[str, str]:
    """Each limit, and how (or whether) this machine enforces it."""
    posix = os.name == "posix"
    linux = sys.platform.startswith("linux")
    out = {
        "time": f"{limits.time:g} s wall clock; then the whole process tree is killed",
        "output": f"first {limits.keep // 1024} KiB of each stream kept; killed past {limits.cap // 1024} KiB in all",
        "working directory": "a new temporary folder, removed afterwards",
        "environment": "PATH, HOME and TMPDIR only; nothing from the kernel's",
    }
    if _drops_to_nobody():
        out["user"] = f"nobody (uid {NOBODY}), with {nobody_python()}: the lab's process is out of its reach"
    elif _is_root():
        out["user"] = (
            "root: no Python here that nobody may run, so the code can reach the lab's process and lift its limits"
        )
    elif posix:
        out["user"] = "you: your other processes (the kernel included) are readable and signalable by pid from the code"
    if not posix:
        out["memory"] = out["processes"] = out["cpu"] = out["files"] = "not enforced on Windows by duplexlab"
        return out
    out["cpu"] = f"{math.ceil(limits.time) + 1} s of CPU (RLIMIT_CPU)"
    if linux:
        out["memory"] = f"{limits.memory // 2**20} MiB of address space (RLIMIT_AS)"
    else:
        out["memory"] = f"{limits.memory // 2**20} MiB resident (a watchdog checks every 0.1 s)"
    if linux and cgroup_parent() is not None:
        out["processes"] = f"{limits.processes} (a pids cgroup)" + (
            "" if _drops_to_nobody() else "; code running as you could lift it"
        )
    elif _is_root():
        out["processes"] = (
            "not enforced: running as root, where RLIMIT_NPROC does not bind, and no pids cgroup could be made"
        )
    elif linux:
        out["processes"] = f"{limits.processes} more than this user runs now (RLIMIT_NPROC)"
    else:
        out["processes"] = "not enforced on this system (RLIMIT_NPROC counts all of the user's)"
    out["files"] = (
        f"{limits.file_size // 1024} KiB per file (RLIMIT_FSIZE), {limits.open_files} open at once (RLIMIT_NOFILE)"
    )
    return out


def _rlimits(limits: Limits, cgroup: Path | None) -> dict[str, int]:
    if os.name != "posix":
        return {}
    out = {
        "RLIMIT_CPU": math.ceil(limits.time) + 1,
        "RLIMIT_FSIZE": limits.file_size,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_CORE": 0,
    }
    if sys.platform.startswith("linux"):
        out["RLIMIT_AS"] = limits.memory
        if cgroup is None and not _is_root():
            out["RLIMIT_NPROC"] = _user_processes() + limits.processes
    return out


# -- one run -------------------------------------------------------------------


class _Output(asyncio.Protocol):
    """Reads one stream of the child as it comes: keeps the head, counts the rest."""

    def __init__(self, budget: _Budget, keep: int) -> None:
        self.budget, self.keep = budget, keep
        self.head = bytearray()
        self.tail = b""
        self.total = 0
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
        self.tail = (self.tail + data)[-2048:]
        self.total += len(data)
        self.budget.add(len(data))

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class _Budget:
    def __init__(self, cap: int, over) -> None:
        self.cap, self.over, self.total = cap, over, 0

    def add(self, n: int) -> None:
        self.total += n
        if self.total > self.cap and self.over is not None:
            over, self.over = self.over, None
            over()


class _Tree:
    """The processes of one submission: its session/process group and its cgroup."""

    def __init__(self, proc: asyncio.subprocess.Process, cgroup: Path | None) -> None:
        self.proc, self.cgroup = proc, cgroup

    def kill(self) -> None:
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        elif self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        if self.cgroup is not None:
            for pid in self.members():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def members(self) -> list[int]:
        if self.cgroup is None:
            return []
        try:
            return [int(p) for p in (self.cgroup / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    async def remove_cgroup(self, timeout: float = 2.0) -> None:
        if self.cgroup is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.kill()
            try:
                self.cgroup.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                await asyncio.sleep(0.01)  # members still exiting


def _rss_bytes(pgid: int) -> int:
    """Resident memory of a process group, via ``ps`` (POSIX systems without RLIMIT_AS)."""
    out = subprocess.run(["ps", "-o", "rss=", "-g", str(pgid)], capture_output=True, text=True, timeout=2).stdout
    return 1024 * sum(int(x) for x in out.split() if x.isdigit())


# bubblewrap's namespaces for a submission: no network, no IPC or hostname of the host's, and a
# process tree of its own (with a /proc of its own mounted: the host's would show every process)
_NAMESPACES = ["--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-pid"]


@functools.lru_cache(maxsize=1)
def isolation() -> str | None:
    """bubblewrap's path if it can isolate a submission here (no network, no other processes, no homes), else None.

    Found once per process by trying it. A classroom judge runs only with it: there the code
    is other students', and the machine is the teacher's.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None or not sys.platform.startswith("linux"):
        return None
    try:
        probe = subprocess.run(
            [bwrap, *_NAMESPACES, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "true"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bwrap if probe.returncode == 0 else None


def _isolated(bwrap: str, folder: Path, python: str, child: Path, settings: str, cgroup: Path | None) -> list[str]:
    """The command that runs the first process of a submission inside bubblewrap.

    Everything is read-only; homes, /root and /tmp are empty (the submission's own folder
    is bound back in); the network is a namespace of its own with nothing in it; so are the
    processes: its /proc shows only its own, so it can neither read another's environment nor
    signal one (the lab included), whoever the teacher runs as.
    """
    argv = [bwrap, "--die-with-parent", "--new-session", *_NAMESPACES]
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    hidden = {"/home", "/root", "/tmp", str(Path.home())}
    for place in sorted(hidden):
        if Path(place).is_dir() and place != "/":
            argv += ["--tmpfs", place]
    prefixes = {str(Path(python).resolve().parent.parent)}
    if Path(python).resolve() == Path(sys.executable).resolve():
        prefixes |= {sys.prefix, sys.base_prefix}  # this very Python: its installation too
    for prefix in sorted(prefixes):
        if any(prefix == h or prefix.startswith(h + "/") for h in hidden):
            argv += ["--ro-bind", prefix, prefix]  # the Python it runs, if it lives in a hidden place
    argv += ["--bind", str(folder), str(folder)]
    if cgroup is not None:
        argv += ["--bind", str(cgroup), str(cgroup)]  # to join its own cgroup, and nothing more
    return [*argv, "--chdir", str(folder), "--", python, "-I", str(child), settings]


@dataclass
class _Job:
    """One submission made ready to run: its folder, its cgroup and the command that runs it."""

    folder: Path
    cgroup: Path | None
    argv: list[str]
    env: dict[str, str]
    isolated: bool

    def discard(self) -> None:
        """Remove what preparing made, for a job that never ran."""
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()


@dataclass
class _Ended:
    """How the process of one submission ended, before it is judged."""

    returncode: int | None
    stopped: str | None  # the first reason the sandbox stopped it: time-limit, output-limit, memory-limit
    seconds: float
    out: _Output
    err: _Output
    output_bytes: int


async def run(code: str, limits: Limits = Limits(), *, isolate: bool = False) -> Outcome:
    """Run ``code`` in the sandbox and wait for its :class:`Outcome`. Cancelling kills it.

    ``isolate=True`` (a classroom's judge) also runs it inside bubblewrap: no network, no
    other processes, no homes, an empty /tmp. ``RuntimeError`` if this machine cannot (see :func:`isolation`).

    Preparing (the folder, the cgroup) and removing the folder afterwards happen on a worker
    thread, never on the lab's loop.
    """
    handover = _Handover()
    try:
        job = await asyncio.to_thread(handover.prepare, code, limits, isolate=isolate)
    except asyncio.CancelledError:  # the thread goes on: what it makes is removed, now or once made
        handover.abandon()
        raise
    try:
        ended = await _spawn(job, limits)
    finally:
        await _remove(job.folder)
    return _outcome(job, ended, limits)


def _prepare(code: str, limits: Limits, *, isolate: bool) -> _Job:
    """Make a submission ready to run (blocking: run it on a worker thread): a new folder with the code
    (and the child, for bubblewrap), a pids cgroup, the environment and the command line."""
    bwrap = isolation() if isolate else None
    if isolate and bwrap is None:
        raise RuntimeError("bubblewrap cannot isolate submissions on this machine (Debian: apt install bubblewrap)")
    job = _Job(Path(tempfile.mkdtemp(prefix="duplexlab-judge-")), None, [], {}, isolated=bwrap is not None)
    try:
        folder = job.folder
        (folder / "main.py").write_text(code, encoding="utf-8")
        child = CHILD
        if bwrap is not None:  # the package may live in a place the submission cannot see: bring the child along
            child = folder / "child.py"
            shutil.copyfile(CHILD, child)
        job.cgroup = cgroup = _new_cgroup(limits)
        as_nobody = _drops_to_nobody()
        settings = json.dumps(
            {
                "cgroup": str(cgroup) if cgroup else None,
                "rlimits": _rlimits(limits, cgroup),
                "uid": NOBODY if as_nobody else None,
            }
        )
        python = (nobody_python() if as_nobody else None) or sys.executable
        if as_nobody:
            for path in {folder, folder / "main.py", child} - {CHILD}:
                os.chown(path, NOBODY, NOBODY)
        job.argv = (
            _isolated(bwrap, folder, python, child, settings, cgroup)
            if bwrap is not None
            else [python, "-I", str(CHILD), settings]
        )
        job.env = {
            "PATH": os.defpath,
            "HOME": str(folder),
            "TMPDIR": str(folder),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
        if os.name == "nt":
            job.env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", r"C:\Windows")
        return job
    except BaseException:
        job.discard()
        raise


def _new_cgroup(limits: Limits) -> Path | None:
    """A pids cgroup of its own for one submission, or None where none can be made."""
    parent = cgroup_parent() if sys.platform.startswith("linux") else None
    if parent is None:
        return None
    cgroup = parent / f"duplexlab-{os.getpid()}-{next(_names)}"
    try:
        cgroup.mkdir()
        (cgroup / "pids.max").write_text(str(limits.processes))
    except OSError:
        return None
    return cgroup


class _Handover:
    """A preparation on a worker thread that its run may abandon (cancelled, the lab stopping): then
    what it made is removed, by whichever side comes second, with no help from the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._job: _Job | None = None

    def prepare(self, code: str, limits: Limits, *, isolate: bool) -> _Job:
        job = _prepare(code, limits, isolate=isolate)
        with self._lock:
            self._job = job
            if self._abandoned:
                job.discard()
        return job

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            if self._job is not None:
                self._job.discard()


async def _remove(folder: Path) -> None:
    """Remove a submission's folder (whatever its code wrote there) on a worker thread."""
    try:
        await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)
    except RuntimeError:  # the loop's workers are shut down (the lab is stopping): here, then
        shutil.rmtree(folder, ignore_errors=True)


async def _spawn(job: _Job, limits: Limits) -> _Ended:
    """Start the submission's process tree, read its output, and wait for it within the limits; then
    kill whatever it left running and remove its cgroup. Cancelling kills it."""
    loop = asyncio.get_running_loop()
    why: list[str] = []
    tree: _Tree | None = None
    readers: list[tuple[asyncio.BaseTransport, _Output]] = []
    started = time.perf_counter()

    def stop(reason: str) -> None:
        if not why:
            why.append(reason)
        if tree is not None:
            tree.kill()

    budget = _Budget(limits.cap, lambda: stop("output-limit"))
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *job.argv, stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, cwd=job.folder, env=job.env, **_GROUP
            )
        finally:
            os.close(out_w)
            os.close(err_w)
        tree = _Tree(proc, job.cgroup)
        for fd in (out_r, err_r):
            transport, protocol = await loop.connect_read_pipe(
                lambda: _Output(budget, limits.keep), os.fdopen(fd, "rb", 0)
            )
            readers.append((transport, protocol))
        out_r = err_r = -1
        await _wait(proc, limits, stop)
        seconds = time.perf_counter() - started
        tree.kill()  # whatever the code left running
        await tree.remove_cgroup()
        # what is already in the pipes; a grandchild that escaped cannot hold us up
        await asyncio.wait([asyncio.ensure_future(p.closed) for _, p in readers], timeout=0.2)
    except BaseException:
        if tree is not None:
            tree.kill()
            await asyncio.shield(tree.remove_cgroup())
        raise
    finally:
        for pipe, _ in readers:
            pipe.close()
        for fd in (out_r, err_r):
            if fd >= 0:
                os.close(fd)
    out, err = readers[0][1], readers[1][1]
    return _Ended(proc.returncode, why[0] if why else None, seconds, out, err, budget.total)


# a submission's own session and process group, so that the whole tree can be killed
_GROUP: dict[str, Any] = (
    {"start_new_session": True}
    if os.name == "posix"
    else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
)


async def _wait(proc: asyncio.subprocess.Process, limits: Limits, stop: Callable[[str], None]) -> None:
    """Wait for the process within the time limit (and, on POSIX without RLIMIT_AS, the memory limit)."""
    watchdog = None
    if os.name == "posix" and not sys.platform.startswith("linux"):

        async def watch() -> None:
            while proc.returncode is None:
                await asyncio.sleep(0.1)
                rss = await asyncio.to_thread(_rss_bytes, proc.pid)
                if rss > limits.memory:
                    stop("memory-limit")
                    return

        watchdog = asyncio.get_running_loop().create_task(watch())
    try:
        await asyncio.wait_for(proc.wait(), limits.time)
    except TimeoutError:
        stop("time-limit")
        await proc.wait()
    finally:
        if watchdog is not None:
            watchdog.cancel()


def verdict(returncode: int | None, *, stopped: str | None = None, stderr_tail: str = "") -> str:
    """The verdict on a finished run, from how it ended alone (pure).

    Args:
        returncode: the child's exit status (``128 + n`` or ``-n``: killed by signal ``n``).
        stopped: the first reason the sandbox stopped it (``time-limit`` at the time limit,
            ``output-limit`` past the output cap, ``memory-limit`` by the watchdog), or None.
        stderr_tail: the last bytes of its stderr, decoded.

    Returns:
        ``ok``, ``runtime-error``, ``time-limit``, ``memory-limit`` or ``output-limit``.
    """
    if stopped:
        return stopped
    if returncode != 0 and ("MemoryError" in stderr_tail or "Cannot allocate memory" in stderr_tail):
        return "memory-limit"
    if returncode == 128 + getattr(signal, "SIGXCPU", -1000):  # over RLIMIT_CPU
        return "time-limit"
    return "ok" if returncode == 0 else "runtime-error"


def explain(verdict: str, returncode: int | None, error: str, limits: Limits) -> str:
    """The run's stderr, with a last line that says which limit stopped it or which signal killed it (pure)."""
    notes = {
        "time-limit": f"stopped after the time limit of {limits.time:g} s",
        "output-limit": f"stopped after printing more than {limits.cap // 1024} KiB",
        "memory-limit": f"went over the memory limit of {limits.memory // 2**20} MiB",
    }
    if verdict in notes:
        return (error + "\n" if error else "") + notes[verdict]
    if verdict == "runtime-error" and returncode is not None and (returncode > 128 or returncode < 0):
        number = returncode - 128 if returncode > 128 else -returncode
        return (error + "\n" if error else "") + f"killed by signal {number} ({_signal_name(number)})"
    return error


def _outcome(job: _Job, ended: _Ended, limits: Limits) -> Outcome:
    # tracebacks name the file as the student wrote it: main.py, not the temporary path
    output, error = _text(ended.out), _text(ended.err).replace(f"{job.folder}{os.sep}", "")
    tail = ended.err.tail.decode("utf-8", errors="replace")
    judged = verdict(ended.returncode, stopped=ended.stopped, stderr_tail=tail)
    error = explain(judged, ended.returncode, error, limits)
    enforced = enforced_limits(limits)
    if job.isolated:
        enforced["isolation"] = (
            "bubblewrap: no network, no other processes, no homes, an empty /tmp, everything else read-only"
        )
        if enforced.get("user", "").startswith("you:"):  # its own process namespace: your others are out of sight
            enforced["user"] = "you, in a process namespace of its own: your other processes are out of its reach"
    return Outcome(judged, output, error, ended.returncode, round(ended.seconds, 4), ended.output_bytes, enforced)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def _text(stream: _Output) -> str:
    text = bytes(stream.head).decode("utf-8", errors="replace")
    if stream.total > len(stream.head):
        text += f"\n… ({stream.total - len(stream.head)} more bytes not kept)"
    return text
