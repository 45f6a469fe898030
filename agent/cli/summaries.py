"""A finished (or stopped) bench run's report and its summary table."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from agent.cli.app import out, say


def finish_report(out_dir: Path) -> None:
    from eval.report import load_summary, write_report

    write_report([out_dir], out_dir)
    print_summary(load_summary(out_dir / "summary.json"))
    say(f"report: {out_dir / 'report.md'}  attempts: {out_dir / 'attempts.jsonl'}  trace: {out_dir / 'trace.jsonl'}")


def report_partial(out_dir: Path) -> None:
    from eval.report import write_report

    try:
        if (out_dir / "run.json").exists():
            write_report([out_dir], out_dir)
    except (OSError, ValueError, KeyError):
        pass


def print_summary(summary) -> None:
    table = Table(title=f"{summary.run}: pass@k on the hidden tests" + (" [ORACLE feedback]" if summary.oracle else ""))
    ks = sorted({int(x) for r in summary.pass_at_k.values() for x in r})
    table.add_column("round")
    for value in ks:
        table.add_column(f"pass@{value}", justify="right")
    for r, values in summary.pass_at_k.items():
        name = r + (" (single-shot)" if r == "0" else "") + (" (after repair)" if r != "0" and int(r) == summary.rounds else "")
        table.add_row(name, *[f"{100 * values[str(x)]:.1f}%" if str(x) in values else "–" for x in ks])
    out.print(table)
    cost, wall = summary.cost, summary.wall
    out.print(f"{summary.problems} problems x {summary.n} samples; {cost.completion_tokens} tokens generated, "
              f"{cost.completion_tokens_per_solved} per solved sample; wall {wall.seconds} s, "
              f"{wall.completion_tokens_per_second} tok/s", highlight=False)
