"""The first process of a judge submission: it puts the limits on, then runs the code.

Run by the judge as ``python -I sandbox_child.py '<settings as JSON>'`` in the
submission's own session and temporary folder; it uses the standard library
only. It joins the submission's pids cgroup (when the judge made one), sets the
resource limits it is given (soft = hard, so the code cannot raise them), then
runs ``main.py`` in a child process and waits for it: ``os.getppid()`` in the
submitted code is this process, not the lab. Started as root, it becomes the
unprivileged ``uid`` it is given first, so the code can neither leave its
cgroup, nor read or signal the lab's process, nor raise its limits.
"""

import json
import os
import subprocess
import sys

__all__ = ["main"]


def main() -> int:
    settings = json.loads(sys.argv[1])
    cgroup = settings.get("cgroup")
    if cgroup:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    try:
        import resource
    except ImportError:  # Windows
        resource = None  # type: ignore[assignment]
    if resource is not None:
        for name, value in settings.get("rlimits", {}).items():
            resource.setrlimit(getattr(resource, name), (value, value))
    uid = settings.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    command = [sys.executable, "-I", "-X", "utf8", "main.py"]
    if not hasattr(os, "fork"):
        return subprocess.call(command)
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(sys.executable, command)
        finally:
            os._exit(127)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as shells say


if __name__ == "__main__":
    sys.exit(main())
