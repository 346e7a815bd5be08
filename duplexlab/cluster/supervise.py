"""Run a program for as long as our standard input stays open (the lab's line to it).

``python -m duplexlab.cluster.supervise PROGRAM ARGS…`` starts the program and
waits. With ``--feed`` first, the first line of our standard input is a JSON
object ``{"stdin": TEXT}``, and the program gets TEXT on its standard input
(then its end): how a secret reaches a program without ever being in a command
line, which every user of the machine can read (``redis-server -`` reads its
configuration, password included, that way). When our standard input closes (the lab stopped it, or the lab's process
died, even by SIGKILL, as a kernel restart does) it terminates the program, and
kills it if it has not gone within two seconds. A program that cannot watch a
pipe itself (``redis-server``) is thereby owned by the lab like the rest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

__all__ = ["main"]


def main(argv: list[str]) -> int:
    feed = None
    if argv[:1] == ["--feed"]:
        argv = argv[1:]
        feed = json.loads(sys.stdin.readline())["stdin"]
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL if feed is None else subprocess.PIPE, text=True)
    if feed is not None:
        assert child.stdin is not None
        try:
            child.stdin.write(feed)
        finally:
            child.stdin.close()

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
