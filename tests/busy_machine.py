"""Run the test suite several times in a row with CPU-burning processes beside it.

A test that passes only on an idle machine depends on timing; this is how we check that
none does (issue 16). Usage, from the repository root::

    python tests/busy_machine.py                  # 5 runs, 2 burners, the whole suite
    python tests/busy_machine.py --runs 3 --burners 4 -- tests/av -x

Prints one line per run (exit code, seconds, pytest's summary) and exits non-zero if any
run failed. The burners are bounded: they are killed when this script ends, however it
ends, and each also stops by itself once its parent is gone (even after a SIGKILL).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

_BURN = """
import os
parent = os.getppid()
while os.getppid() == parent:  # a burner outlives no script
    for _ in range(200_000):
        pass
"""


def _summary(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the suite `--runs` times beside `--burners` CPU burners; return 0 if all passed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = parser.parse_args(argv)
    # Stopped by a signal, still run `finally`: the burners and the running suite end too
    # (started in the background, a shell would even have this script ignore SIGINT).
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    burners = [
        subprocess.Popen([sys.executable, "-c", _BURN], stdin=subprocess.DEVNULL)
        for _ in range(args.burners)
    ]
    failed = 0
    try:
        for run in range(1, args.runs + 1):
            t0 = time.monotonic()
            out = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args],
                capture_output=True,
                text=True,
                check=False,
            )
            seconds = time.monotonic() - t0
            alive = sum(b.poll() is None for b in burners)
            print(
                f"run {run}/{args.runs}: exit {out.returncode}, {seconds:.0f} s, "
                f"{alive} burners running: {_summary(out.stdout)}",
                flush=True,
            )
            if out.returncode != 0:
                failed += 1
                failures = [ln for ln in out.stdout.splitlines() if ln.startswith("FAILED")]
                print("\n".join(failures) or out.stdout[-3000:], flush=True)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    print(f"{args.runs - failed} of {args.runs} runs passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
