"""A sweep: a grid of bench configurations, each point an ordinary run directory under
the sweep's folder, named by its settings; `sweep.json` names the grid and the points,
and the sweep's report compares them (pass@k per round against each swept value, and
pass@1 against generated tokens)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from pydantic import BaseModel, Field

from eval.report import RunSummary, write_report, write_summary
from eval.run_dir import _write_atomic

MANIFEST = "sweep.json"
SWEEP_SCHEMA = 1


class SweepError(ValueError):
    """A grid that cannot be run; one sentence."""


class SweepPoint(BaseModel):
    name: str = Field(description="the point's run directory under the sweep's folder")
    settings: dict[str, str] = Field(description="option -> value, as given on the command line")


class SweepManifest(BaseModel):
    schema_version: int = SWEEP_SCHEMA
    grid: dict[str, list[str]]
    points: list[SweepPoint]
    command: str


def parse_grid(specs: list[str], known: set[str], shared: set[str]) -> dict[str, list[str]]:
    """`["temperature=0,0.4", "feedback=visible,none"]` -> {option: values}. `known` are the
    bench's options (without dashes, dashes or underscores alike); `shared` ones cannot vary."""
    grid: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip().lstrip("-").replace("_", "-")
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not sep or not name or not values:
            raise SweepError(f"--grid takes OPTION=VALUE,VALUE...; not {spec!r}")
        if name not in known:
            raise SweepError(f"--grid {name}: the bench has no option --{name}")
        if name in shared:
            raise SweepError(f"--grid {name}: every point shares one model server and sandbox pool, so --{name} "
                             "cannot vary; run a separate sweep")
        if name in grid:
            raise SweepError(f"--grid {name} is given twice")
        if len(set(values)) != len(values):
            raise SweepError(f"--grid {name} repeats a value")
        grid[name] = values
    if not grid:
        raise SweepError("give at least one --grid OPTION=VALUE,VALUE...")
    return grid


def points_of(grid: dict[str, list[str]]) -> list[SweepPoint]:
    names = list(grid)
    return [SweepPoint(name=point_name(dict(zip(names, values))), settings=dict(zip(names, values)))
            for values in itertools.product(*(grid[n] for n in names))]


def point_name(settings: dict[str, str]) -> str:
    """`{"temperature": "0.4", "feedback": "none"}` -> `temperature-0.4_feedback-none`."""
    return "_".join(f"{k}-{re.sub(r'[^A-Za-z0-9.+-]', '', v) or 'x'}" for k, v in settings.items())


def write_manifest(folder: Path, manifest: SweepManifest) -> None:
    """Creates the sweep's folder, or checks that it holds the same grid (a resumed sweep)."""
    path = folder / MANIFEST
    if path.exists():
        old = read_manifest(folder)
        if old.grid != manifest.grid:
            raise SweepError(f"{folder} holds a sweep over another grid ({old.grid}); choose a new --out")
        return
    if folder.exists() and any(folder.iterdir()):
        raise SweepError(f"{folder} exists, is not empty and holds no {MANIFEST}; choose a new --out")
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, manifest.model_dump_json(indent=2) + "\n")


def read_manifest(folder: Path) -> SweepManifest:
    try:
        return SweepManifest.model_validate_json((folder / MANIFEST).read_bytes())
    except (OSError, ValueError):
        raise SweepError(f"{folder / MANIFEST} is not a sweep manifest") from None


def is_sweep(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


# ---------------------------------------------------------------------- the comparison


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def sweep_table(manifest: SweepManifest, summaries: dict[str, RunSummary]) -> list[str]:
    """pass@k per round for every point, one row per point and round."""
    ks = sorted({int(k) for s in summaries.values() for r in s.pass_at_k.values() for k in r})
    keys = list(manifest.grid)
    rows = ["| " + " | ".join(keys) + " | problems | round | " + " | ".join(f"pass@{k}" for k in ks)
            + " | tokens per problem |", "|" + "---|" * len(keys) + "---:|---:|" + "---:|" * (len(ks) + 1)]
    for point in manifest.points:
        summary = summaries.get(point.name)
        if summary is None:
            continue
        for r, values in summary.pass_at_k.items():
            tokens = summary.tokens_by_round.get(r)
            rows.append("| " + " | ".join(point.settings[k] for k in keys) + f" | {summary.problems} | {r} | "
                        + " | ".join("–" if str(k) not in values else f"{100 * values[str(k)]:.1f}%" for k in ks)
                        + f" | {'–' if tokens is None else f'{tokens:.0f}'} |")
    return rows


def plot_sweep(manifest: SweepManifest, summaries: dict[str, RunSummary], target: Path) -> list[Path]:
    """For each swept option: pass@k against its value, one line per round shown (single-shot
    and after repair) and per value of the other options."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target.mkdir(parents=True, exist_ok=True)
    ks = sorted({int(k) for s in summaries.values() for r in s.pass_at_k.values() for k in r})
    paths = []
    for option, values in manifest.grid.items():
        numeric = all(_number(v) is not None for v in values)
        others = [k for k in manifest.grid if k != option]
        figure, axes = plt.subplots(1, len(ks), figsize=(4.4 * len(ks), 3.8), squeeze=False)
        for axis, k in zip(axes[0], ks):
            groups: dict[tuple, list[SweepPoint]] = {}
            for point in manifest.points:
                groups.setdefault(tuple(point.settings[o] for o in others), []).append(point)
            color = 0
            for rest, group in groups.items():
                finished = [p for p in group if p.name in summaries]
                rounds = sorted({int(r) for p in finished for r in summaries[p.name].pass_at_k})
                for r in sorted({rounds[0], rounds[-1]}) if rounds else []:
                    xs, ys = [], []
                    for index, p in enumerate(finished):
                        value = summaries[p.name].pass_at_k.get(str(r), {}).get(str(k))
                        if value is not None:
                            xs.append(_number(p.settings[option]) if numeric else index)
                            ys.append(100 * value)
                    what = "single-shot" if r == 0 else f"after repair (round {r})"
                    label = ", ".join(f"{o}={v}" for o, v in zip(others, rest))
                    axis.plot(xs, ys, marker="o", color=f"C{color // 2}", linestyle="-" if r else ":",
                              label=f"{what}{'; ' + label if label else ''}")
                    color += 1
                if not numeric:
                    axis.set_xticks(range(len(finished)), [p.settings[option] for p in finished])
            axis.set_title(f"pass@{k} against {option}")
            axis.set_xlabel(option)
            axis.set_ylabel("%")
            axis.set_ylim(0, 100)
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7)
        figure.tight_layout()
        path = target / f"pass_at_k_by_{option}.png"
        figure.savefig(path, dpi=120)
        plt.close(figure)
        paths.append(path)
    return paths


def write_sweep_report(folder: Path) -> Path:
    """Each point's own report and summary, then the sweep's report.md and plots."""
    from eval.report import plot_cost_quality, render_report

    manifest = read_manifest(folder)
    point_dirs = [folder / p.name for p in manifest.points if (folder / p.name / "run.json").is_file()]
    summaries: dict[str, RunSummary] = {}
    for directory in point_dirs:
        write_report([directory], directory)
        summaries[directory.name] = write_summary(directory)
    plots = plot_sweep(manifest, summaries, folder / "plots")
    plots += plot_cost_quality(list(summaries.values()), folder / "plots")
    missing = [p.name for p in manifest.points if p.name not in summaries]
    text = ["# Sweep report", "", f"Command: `{manifest.command}`", "",
            "Grid: " + "; ".join(f"{k} ∈ {{{', '.join(v)}}}" for k, v in manifest.grid.items()), ""]
    if missing:
        text += [f"**Points not started**: {', '.join(missing)}.", ""]
    text += ["## pass@k per point and round (hidden tests)", "", *sweep_table(manifest, summaries), ""]
    body = render_report(list(summaries.values()), [str(p.relative_to(folder)) for p in plots])
    text += body.split("\n", 2)[2].splitlines()  # the runs' own report, without its title
    path = folder / "report.md"
    _write_atomic(path, "\n".join(text) + "\n")
    return path
