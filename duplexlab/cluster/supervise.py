"""Run a program for as long as our standard input stays open (the lab's line to it).

``python -m duplexlab.cluster.supervise PROGRAM ARGS…`` starts the program and
waits. When its standard input closes (the lab stopped it, or the lab's process
died, even by SIGKILL, as a kernel restart does) it terminates the program, and
kills it if it has not gone within two seconds. A program that cannot watch a
pipe itself (``redis-server``) is thereby owned by the lab like the rest.
"""

from __future__ import annotations

import subprocess
import sys
import threading

__all__ = ["main"]


def main(argv: list[str]) -> int:
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)

    def watch() -> None:
        sys.stdin.read()  # returns when the lab's end of the pipe closes
        child.terminate()

    threading.Thread(target=watch, daemon=True).start()
    try:
        return child.wait()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(2)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
