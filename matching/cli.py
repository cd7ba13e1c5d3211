"""``placefund match``: the matcher on JSON files, without a database.

The lead registers the group on the ``placefund`` command (``main.add_command(match)``).
Exit codes: 0 success, 2 bad input (file, field, designation CSV or an output folder that
does not exist, found before anything is solved), 3 infeasible settings; 1 is left to what
the matcher did not foresee (a bug) and to an interrupt. Nothing is written when the run
fails: the result goes to a temporary file that replaces the output only once complete.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import click

from matching.errors import DesignationError, Infeasible, InvalidInstance
from matching.instance import load_instance, result_to_json
from matching.priority import read_designations
from matching.problem import MAX_COUNT
from matching.solver import solve


class _InputError(click.ClickException):
    exit_code = 2


class _InfeasibleError(click.ClickException):
    exit_code = 3


class _StageBars:
    """One click progress bar per stage (scoring, solving), drawn on stderr, and only when
    stderr is a terminal: click would still print each stage's label to a pipe or log."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and _is_terminal(sys.stderr)
        self.stage: str | None = None
        self.bar = None
        self.done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.done = 0
            self.bar = click.progressbar(
                length=max(total, 1), label=stage.capitalize(), file=sys.stderr
            )
            self.bar.__enter__()
        if done > self.done:
            self.bar.update(done - self.done)
            self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@click.group("match")
def match() -> None:
    """Match companies' partnership offers with local businesses' requests."""


@match.command("solve")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Instance JSON (offers, requests, related parties, parameters).",
)
@click.option(
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the result JSON.",
)
@click.option(
    "--designations",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Priority-area designation CSV (town_code,type); overrides the instance's.",
)
@click.option(
    "--k",
    type=click.IntRange(min=1, max=MAX_COUNT),
    default=None,
    help="Candidates kept per request (overrides params.k).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def solve_command(
    input_path: Path, output_path: Path, designations: Path | None, k: int | None, quiet: bool
) -> None:
    """Solve a matching instance and write the assignment with its explanations."""
    # Where the result goes is checked before a solve that may take minutes.
    folder = output_path.parent if str(output_path.parent) else Path(".")
    if not folder.is_dir():
        raise _InputError(f"--output: the folder {folder} does not exist")
    if output_path.is_dir():
        raise _InputError(f"--output: {output_path} is a folder, not a file")
    try:
        table = read_designations(designations) if designations else None
        instance = load_instance(input_path, table)
    except FileNotFoundError as exc:
        raise _InputError(f"cannot read {exc.filename}: no such file") from None
    except OSError as exc:
        raise _InputError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except (InvalidInstance, DesignationError) as exc:
        raise _InputError(_problem_list(exc)) from None
    if k is not None:
        instance = replace(instance, params=replace(instance.params, k=k))

    bars = _StageBars(enabled=not quiet)
    try:
        result = solve(instance, progress=bars)
    except Infeasible as exc:
        raise _InfeasibleError(f"infeasible ({exc.constraint}): {exc.detail}") from None
    finally:
        bars.close()

    payload = result_to_json(result, instance)
    try:
        _write_atomically(output_path, payload)
    except OSError as exc:
        raise _InputError(f"cannot write {output_path}: {exc.strerror}") from None
    click.echo(
        f"{len(result.proposals)} proposals, total score {result.total_score} "
        f"(bound {result.bound}, {result.status}); "
        f"{len(result.unmatched_requests)} requests unmatched; written to {output_path}"
    )


def _problem_list(exc: InvalidInstance | DesignationError) -> str:
    if isinstance(exc, DesignationError):
        lines = [f"line {line}: {message}" for line, message in exc.problems]
        head = "the designation CSV has errors:"
    else:
        lines = [f"{path}: {message}" for path, message in exc.problems]
        head = "the input has errors:"
    shown = lines[:50]
    if len(lines) > 50:
        shown.append(f"... and {len(lines) - 50} more")
    return "\n  ".join([head, *shown])


def _write_atomically(path: Path, payload: dict) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, ensure_ascii=False, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
