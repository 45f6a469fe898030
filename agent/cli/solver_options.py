"""The solver's command-line options, declared once: one flag per `SolverConfig` field
(its type, default and description), added to `agent solve` and `agent bench` by one
decorator, so the two cannot drift apart. The command receives them as one
`SolverChoice`: the values, and which of them the command line set. An option set for a
policy that does not read it is refused."""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Any, Callable, NamedTuple

import typer

from agent.cli.app import fail, invalid_option
from agent.config import SolverConfig, ignored_options

PANEL = "Solver options (the same for solve, bench and sweep)"


class SolverChoice(NamedTuple):
    values: dict[str, Any]
    given: frozenset[str]  # the options the command line set


def given_options(context: Any, names: Any) -> frozenset[str]:
    """Which of `names` the command line (or the environment) set, not their defaults."""
    return frozenset(n for n in names if getattr(context.get_parameter_source(n), "name", "DEFAULT") != "DEFAULT")


def solver_options(**command_defaults: Any) -> Callable:
    """Adds the solver's options to a command, which receives them as `solver: SolverChoice`.
    `command_defaults` overrides a field's default for this command (the bench samples at 0.8)."""
    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "solver"]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                   default=command_defaults.get(name, field.default),
                                   annotation=Annotated[field.annotation, typer.Option(help=field.description,
                                                                                       rich_help_panel=PANEL)])
                 for name, field in SolverConfig.model_fields.items()]
        context = inspect.Parameter("solver_context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)

        @functools.wraps(command)
        def wrapper(*args: Any, solver_context: typer.Context, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in SolverConfig.model_fields}
            chosen = SolverChoice(values, given_options(solver_context, values))
            return command(*args, solver=chosen, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*own, *added, context])  # type: ignore[attr-defined]
        return wrapper

    return decorate


def solver_config(choice: SolverChoice) -> SolverConfig:
    """The configuration the options make; one sentence and exit 2 for an invalid one, or
    for an option the chosen policy does not read."""
    try:
        config = SolverConfig(**choice.values)
    except ValueError as exc:
        fail(invalid_option(exc))
    ignored = ignored_options(config.policy, set(choice.given))
    if ignored:
        flags = ", ".join("--" + name.replace("_", "-") for name in ignored)
        fail(f"the {config.policy} policy does not read {flags}; leave {'it' if len(ignored) == 1 else 'them'} out "
             "or choose a policy that reads it (README: Policies)")
    return config
