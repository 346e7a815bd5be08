"""duplexlab's benchmarks: run the course's measurements headless; print a table and JSON.

    python benchmarks/run.py            # everything
    python benchmarks/run.py --quick    # fewer repetitions

Writes benchmarks/results.json (not committed). Every figure is measured in this
one run, on this machine, so ratios compare like with like.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import duplexlab as dl
from duplexlab.experiments import measure_polling

HERE = Path(__file__).resolve().parent


def http_round_trips(lab: dl.Lab, n: int) -> dict:
    """Keep-alive GET round trips: the blocking Client, the AsyncClient, and through a tap."""
    client = lab.client()
    for _ in range(50):
        client.get("/api/health")
    sync = [client.get("/api/health").elapsed for _ in range(n)]

    async def async_rtts() -> list[float]:
        async with dl.AsyncClient(lab.url) as c:
            for _ in range(50):
                await c.get("/api/health")
            return [(await c.get("/api/health")).elapsed for _ in range(n)]

    asyn = asyncio.run(async_rtts())
    tap = lab.tap()
    tapped = lab.client(tap.url)
    tapped.get("/api/users/asha/notifications")
    one_get = tap.counts()
    for _ in range(50):
        tapped.get("/api/health")
    via_tap = [tapped.get("/api/health").elapsed for _ in range(n)]
    tap.close()
    return {
        "http_rtt_ms": statistics.median(sync) * 1000,
        "http_rtt_async_ms": statistics.median(asyn) * 1000,
        "http_rtt_tap_ms": statistics.median(via_tap) * 1000,
        "one_get_bytes": one_get.bytes_total,
        "one_get_header_bytes": one_get.header_bytes,
    }


def polling_delays(lab: dl.Lab, students: int) -> dict:
    """Mean detection delay at 0.1, 0.5 and 1 s, against interval/2 + the measured RTT."""
    rows = {}
    for interval in (0.1, 0.5, 1.0):
        r = lab.run(measure_polling(lab.url, interval=interval, judge_seconds=1.0, students=students), 120)
        rows[str(interval)] = {
            "mean_delay_ms": r.mean_delay * 1000,
            "theory_ms": r.theory_delay * 1000,
            "rtt_ms": r.rtt * 1000,
            "error": (r.mean_delay - r.theory_delay) / r.theory_delay,
            "polls_per_student": r.requests / students,
            "wasted_per_student": r.wasted / students,
            "bytes_per_student": r.bytes_total / students,
        }
    return {"poll_delay": rows, "poll_delay_error": max(abs(v["error"]) for v in rows.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    n, students = (200, 20) if args.quick else (2000, 40)

    results: dict = {"python": sys.version.split()[0], "quick": args.quick}
    t0 = time.perf_counter()
    with dl.Lab() as lab:
        results.update(http_round_trips(lab, n))
        results.update(polling_delays(lab, students))
    results["benchmark_seconds"] = time.perf_counter() - t0

    print(f"{'measurement':<52} {'value':>12}")
    print("-" * 65)
    print(f"{'HTTP keep-alive GET, blocking Client (median)':<52} {results['http_rtt_ms']:>9.3f} ms")
    print(f"{'HTTP keep-alive GET, AsyncClient (median)':<52} {results['http_rtt_async_ms']:>9.3f} ms")
    print(f"{'HTTP keep-alive GET through the tap (median)':<52} {results['http_rtt_tap_ms']:>9.3f} ms")
    print(f"{'tap / direct (blocking Client)':<52} {results['http_rtt_tap_ms'] / results['http_rtt_ms']:>12.2f}")
    print(f"{'bytes of one notifications GET + response':<52} {results['one_get_bytes']:>12} "
          f"({results['one_get_header_bytes']} header)")
    for interval, row in results["poll_delay"].items():
        label = f"poll every {interval} s: mean detection delay"
        print(f"{label:<52} {row['mean_delay_ms']:>9.1f} ms  (theory {row['theory_ms']:.1f} ms, "
              f"error {row['error']:+.1%}, {row['polls_per_student']:.1f} polls, "
              f"{row['bytes_per_student']:.0f} B per student)")
    print(f"{'largest polling-delay error (target within ±10 %)':<52} {results['poll_delay_error']:>11.1%}")
    print(f"{'benchmark run time':<52} {results['benchmark_seconds']:>10.1f} s")
    out = HERE / "results.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
