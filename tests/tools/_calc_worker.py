"""Evaluates one expression per stdin line (JSON) and answers one JSON line: outcome and CPU seconds.

Run as a subprocess by test_calculator_bounds.py, so that an evaluation that
holds the interpreter lock can still be stopped by killing this process.
"""

import json
import sys
import time

from tui_agents.tools.builtin.calculator import CalculationError, evaluate


def main() -> None:
    for line in sys.stdin:
        expression = json.loads(line)
        started = time.thread_time()
        try:
            outcome = "result:" + str(evaluate(expression))[:40]
        except CalculationError as exc:
            outcome = "refused:" + str(exc)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            outcome = f"crash:{type(exc).__name__}: {exc}"
        answer = {"outcome": outcome, "cpu": time.thread_time() - started}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
