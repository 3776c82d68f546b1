"""``twin`` command line. Heavy imports happen inside commands so ``twin --help`` stays fast.

Exit codes: `twin run`: 0 done, 1 a safety invariant broke, 2 bad input.
`twin validate` follows the verdict: 0 GO, 1 GO_WITH_WARNINGS, 2 bad input,
3 NO_GO, 4 INCONCLUSIVE, 5 ABORTED_SAFETY.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

EXIT_OK, EXIT_INVARIANT, EXIT_BAD_INPUT = 0, 1, 2


def _bad_input(msg: str) -> None:
    click.echo(f"twin: {msg}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _load(path: str):
    from .api import ScenarioError, load

    try:
        return load(path)
    except ScenarioError as exc:
        _bad_input(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="twin")
def main() -> None:
    """twin: validate changes to a production line on its digital twin first."""


@main.command()
def schema() -> None:
    """Print the JSON Schema of scenario, line and PLC files (for editors)."""
    import json

    from .model import Line, Plcs, Scenario

    doc = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "twin scenario files",
        "$defs": {"Scenario": Scenario.model_json_schema(), "Line": Line.model_json_schema(),
                  "Plcs": Plcs.model_json_schema()},
        "oneOf": [{"$ref": "#/$defs/Scenario"}, {"$ref": "#/$defs/Line"}, {"$ref": "#/$defs/Plcs"}],
    }
    click.echo(json.dumps(doc, indent=2))


@main.command()
@click.argument("scenario")  # checked by the loader, so a bad path gets the one-line error too
@click.option("--replications", "-n", type=click.IntRange(1, 1000), default=None,
              help="override run.replications")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None, help="worker processes (default: cores)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out", show_default=True,
              help="where the journal and report go (OUT/<scenario id>/)")
@click.option("--realtime", is_flag=True, help="run on the wall clock and serve Modbus TCP and OPC UA")
@click.option("--duration", default=None, help="override run.duration (e.g. 1h, 90s)")
@click.option("--no-report", is_flag=True, help="write the journal only")
@click.option("--lockstep", is_flag=True, help="scan every cycle (no idle-scan skipping); same results, slower")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar and no table; for scripts")
def run(scenario: str, replications: int | None, jobs: int | None, out_dir: str, realtime: bool,
        duration: str | None, no_report: bool, lockstep: bool, quiet: bool) -> None:
    """Run SCENARIO's baseline; print KPIs; write a journal and a report."""
    loaded = _load(scenario)
    if duration is not None:
        loaded = _with_duration(loaded, duration)
    if realtime or loaded.scenario.run.mode == "realtime":
        from .engine.realtime import run_realtime_cli

        sys.exit(run_realtime_cli(loaded, quiet=quiet))
    from .api import run as api_run
    from .report import journal as journal_mod

    n = replications or loaded.scenario.run.replications
    result = _with_progress(lambda on_rep, prog: api_run(loaded, replications=n, jobs=jobs,
                                                          skip_idle_scans=not lockstep,
                                                          on_replication=on_rep, progress=prog),
                            loaded, n, quiet)
    target = Path(out_dir) / loaded.scenario.metadata.id
    jpath = journal_mod.write(result.journal, target / "journal.json")
    report_path = None
    if not no_report:
        from .report.markdown import write_report

        report_path = write_report(result.journal, target)
    if not quiet:
        from .report.console import print_run

        print_run(result.journal)
        click.echo(f"journal: {jpath}")
        if report_path:
            click.echo(f"report:  {report_path}")
    if not result.invariants_ok:
        broken = [k for k, ok in result.journal["invariants"].items() if not ok]
        click.echo(f"twin: safety invariant(s) broken: {', '.join(broken)}", err=True)
        sys.exit(EXIT_INVARIANT)


@main.command()
@click.argument("scenario")
@click.option("--replications", "-n", type=click.IntRange(1, 1000), default=None, help="override run.replications")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None, help="worker processes (default: cores)")
@click.option("--junit", type=click.Path(dir_okay=False), default=None, help="write JUnit XML here")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="write the journal and the report into this folder")
@click.option("--dry-run", is_flag=True, help="check the files and print the plan; simulate nothing")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar; print only the verdict line")
def validate(scenario: str, replications: int | None, jobs: int | None, junit: str | None, report_dir: str | None,
             dry_run: bool, quiet: bool) -> None:
    """Verdict on SCENARIO's change: GO, GO_WITH_WARNINGS, NO_GO, INCONCLUSIVE or ABORTED_SAFETY."""
    loaded = _load(scenario)
    if loaded.scenario.change is None:
        _bad_input(f"{scenario}: change: nothing to validate: the scenario has no 'change:'")
    if dry_run:
        from .validate.plan_text import describe_plan

        click.echo(describe_plan(loaded, replications))
        sys.exit(EXIT_OK)
    from .api import validate as api_validate

    n = replications or loaded.scenario.run.replications
    if quiet:
        result = api_validate(loaded, replications=n, jobs=jobs, junit=junit, report_dir=report_dir)
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task(f"{loaded.scenario.metadata.id}: paired replications", total=n)
            result = api_validate(loaded, replications=n, jobs=jobs, junit=junit, report_dir=report_dir,
                                  on_replication=lambda _r: bar.advance(task))
    click.echo(result.explain() if not quiet else f"{loaded.scenario.metadata.id}: {result.verdict}")
    sys.exit(result.exit_code)


def _with_duration(loaded, text: str):
    from .model.units import parse_duration

    try:
        ms = parse_duration(text)
    except ValueError as exc:
        _bad_input(f"--duration: {exc}")
    if ms <= loaded.scenario.run.warmup:
        _bad_input(f"--duration: must be longer than the warm-up ({loaded.scenario.run.warmup / 60000:g} min)")
    run_cfg = loaded.scenario.run.model_copy(update={"duration": ms})
    loaded.scenario = loaded.scenario.model_copy(update={"run": run_cfg})
    return loaded


def _with_progress(fn, loaded, n: int, quiet: bool):
    if quiet:
        return fn(None, None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    total_ms = loaded.scenario.run.duration
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), transient=True) as bar:
        if n == 1:
            task = bar.add_task(f"{loaded.scenario.metadata.id}: simulating", total=total_ms)
            return fn(None, lambda t: bar.update(task, completed=t))
        task = bar.add_task(f"{loaded.scenario.metadata.id}: {n} replications", total=n)
        return fn(lambda _r: bar.advance(task), None)


def _register_subgroups() -> None:
    from .net.cli import register

    register(main)


_register_subgroups()

if __name__ == "__main__":  # pragma: no cover
    main()
