"""Where the search's generated tokens go, and what each run bought with them.

    .venv/bin/python benchmarks/search_cost.py LABEL=RUN_DIR [LABEL=RUN_DIR ...]
        [--out results/search_cost.json] [--plot results/search_cost.png]

For each run (complete runs only: a partial run leans easy): pass@1 after the last round
on all problems, on the development split run.json names and on the rest (held out);
generated tokens per problem; why samples stopped. Where the run kept its trace, the
tokens are split by what bought them (the proposed tests, the first batch, later batches,
repairs) for problems solved by the first batch, solved later, and never solved. The plot
is pass@1 against tokens per problem, one point per run (dotted from each: every sample cut
after round 0, 1, ..., from summary.json), with the two targets of the token-cost issue
(75.0% at 2,000 tokens, 78% at 3,000) marked.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from agent.trace_events import ModelCall
from agent.view.data import read_events, trace_file
from eval.records import RoundRecord
from eval.run_dir import RunDir

TARGETS = [(2000, 75.0), (3000, 78.0)]


def bought_by(call: ModelCall) -> str:
    """What a model call spent its tokens on, from its node and conversation."""
    if call.node == "prepare":
        return "proposed tests"
    if any(m["role"] == "assistant" for m in call.messages[:-1]) or sum(m["role"] == "user" for m in call.messages) > 1:
        return "repairs"
    return "first batch" if call.round == 0 else "later batches"


def trace_split(run_dir: Path, outcome: dict[str, str]) -> dict | None:
    trace = trace_file(run_dir)
    if trace is None:
        return None
    spent: dict[str, Counter] = defaultdict(Counter)
    for (task, _), events in read_events(trace).items():
        for event in events:
            if isinstance(event, ModelCall) and task in outcome:
                spent[outcome[task]][bought_by(event)] += event.tokens.completion
    counts = Counter(outcome.values())
    return {group: {"problems": counts[group], "tokens_per_problem": round(sum(c.values()) / counts[group], 1),
                    "by_purpose_per_problem": {k: round(v / counts[group], 1) for k, v in sorted(c.items())}}
            for group, c in spent.items()}


def measure(label: str, run_dir: Path) -> dict:
    info = RunDir(run_dir).run_info()
    lines = RunDir(run_dir).load_attempts(repair=False)
    by_sample: dict[tuple[str, int], list[RoundRecord]] = defaultdict(list)
    for line in lines:
        by_sample[(line.task_id, line.sample)].append(line)
    finals = {key: max(rows, key=lambda r: r.round) for key, rows in by_sample.items()}
    if len({task for task, _ in finals}) != info.problems_total or any(not r.final for r in finals.values()):
        raise SystemExit(f"{run_dir} is not complete; only complete runs are results")
    tokens = {key: sum(r.completion_tokens for r in rows) for key, rows in by_sample.items()}
    dev = set(info.dev_split or [])

    def share(keys) -> float | None:
        keys = list(keys)
        return round(100 * sum(bool(finals[k].hidden_passed) for k in keys) / len(keys), 1) if keys else None

    outcome = {}
    for key, rows in by_sample.items():
        first = min(rows, key=lambda r: r.round)
        outcome[key[0]] = ("never solved" if not finals[key].hidden_passed else
                           "solved by the first batch" if first.hidden_passed else "solved later")
    solver = info.experiment.solver
    summary = json.loads((run_dir / "summary.json").read_text())
    through = [[summary["tokens_by_round"][r], round(100 * summary["pass_at_k"][r]["1"], 1)]
               for r in sorted(summary["tokens_by_round"], key=int) if r in summary["pass_at_k"]]
    return {
        "label": label, "dir": str(run_dir), "problems": info.problems_total, "samples": len(finals),
        "pass@1": share(finals), "pass@1_dev": share(k for k in finals if k[0] in dev),
        "pass@1_held_out": share(k for k in finals if k[0] not in dev),
        "tokens_per_problem": round(sum(tokens.values()) / len(finals), 1),
        "tokens_per_problem_dev": round(sum(v for k, v in tokens.items() if k[0] in dev) /
                                        max(1, sum(k[0] in dev for k in finals)), 1),
        "through_each_round": through,
        "stop_reasons": dict(Counter(r.stop_reason for r in finals.values()).most_common()),
        "by_outcome": trace_split(run_dir, outcome),
        "solver": {k: getattr(solver, k, None) for k in ("policy", "candidates", "rounds", "token_budget",
                                                          "consensus_margin", "prefill")},
        "served": getattr(info, "served", None) or (info.model_extra or {}).get("served"),
        "command": info.command, "machine": info.machine, "revision": (info.model_extra or {}).get("revision"),
    }


def plot(results: list[dict], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.6, 4.4))
    groups: dict[str, list[dict]] = defaultdict(list)
    size = max(r["problems"] for r in results)
    results = [r for r in results if r["problems"] == size]  # a subset's run is in the JSON, not on this plot
    for result in results:
        groups[result["label"].split(" ")[0]].append(result)
    for index, (name, runs) in enumerate(groups.items()):
        runs = sorted(runs, key=lambda r: r["tokens_per_problem"])
        axis.plot([r["tokens_per_problem"] for r in runs], [r["pass@1"] for r in runs], marker="o",
                  color=f"C{index}", label=name)
        for r in runs:  # every sample cut after round 0, 1, ...: what a smaller --rounds would have bought
            xs, ys = zip(*r["through_each_round"])
            axis.plot(xs, ys, color=f"C{index}", linestyle=":", linewidth=0.8, alpha=0.7)
            axis.annotate(r["label"].split(" ", 1)[-1], (r["tokens_per_problem"], r["pass@1"]), fontsize=7,
                          textcoords="offset points", xytext=(4, -10))
    for tokens, quality in TARGETS:
        axis.plot([0, tokens], [quality, quality], color="grey", linestyle=":", linewidth=1)
        axis.plot([tokens, tokens], [quality, 100], color="grey", linestyle=":", linewidth=1)
        axis.annotate(f"target: ≥{quality:g}% at ≤{tokens:,} tokens", (40, quality), fontsize=7,
                      color="grey", textcoords="offset points", xytext=(0, 3))
    axis.set_xlabel("generated tokens per problem")
    axis.set_ylabel("pass@1 on the hidden tests, %")
    axis.set_title(f"search, {size} problems: pass@1 against generation cost")
    axis.set_xlim(0, max(3500, max(r["tokens_per_problem"] for r in results) * 1.1))
    axis.set_ylim(min(55, min(r["pass@1"] for r in results) - 5), min(100, max(r["pass@1"] for r in results) + 8))
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_DIR; runs whose labels share a first word form a curve")
    parser.add_argument("--out", type=Path, default=Path("results/search_cost.json"))
    parser.add_argument("--plot", type=Path, default=Path("results/search_cost.png"))
    args = parser.parse_args()
    pairs = [item.split("=", 1) if "=" in item else (Path(item).name, item) for item in args.runs]
    results = [measure(label, Path(folder)) for label, folder in pairs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "runs": results}, indent=2) + "\n")
    plot(results, args.plot)
    for r in results:
        print(f"{r['label']:<32} pass@1 {r['pass@1']:5.1f}% (dev {r['pass@1_dev']}, held out "
              f"{r['pass@1_held_out']})  {r['tokens_per_problem']:7.1f} tokens/problem")
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
