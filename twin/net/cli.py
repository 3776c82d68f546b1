"""`twin net check|diff`. Register with `twin.net.cli.register(main)`; heavy imports happen inside commands.

Exit codes: `check`: 0 every declared flow holds, 1 one fails, 2 bad input.
`diff`: 0 every step of the differential check passes (or is skipped), 1 one fails, 2 bad input.
Warnings (shadowed rules, Purdue levels skipped) are printed but do not change the exit code.
"""

from __future__ import annotations

import sys

import click

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def _load(path: str, rules: str | None):
    from ..model.errors import ScenarioError
    from .loader import load_network

    try:
        return load_network(path, rules)
    except ScenarioError as exc:
        click.echo(f"twin: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)


@click.group("net", context_settings={"help_option_names": ["-h", "--help"]})
def net() -> None:
    """Static network analysis: reachability, required and forbidden flows, rule-set differences."""


@net.command("check")
@click.argument("network")
@click.option("--rules", default=None, help="a rules file whose conduit sections replace the network's")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def check(network: str, rules: str | None, as_json: bool) -> None:
    """Reachability matrix by operation, and the result of every required and forbidden flow."""
    import json

    from .flows import check_flows
    from .reach import reachability
    from .text import check_json, check_text

    net_ = _load(network, rules)
    reach = reachability(net_)
    results = check_flows(net_)
    findings = net_.findings()
    if as_json:
        click.echo(json.dumps(check_json(net_, reach, results, findings), indent=2))
    else:
        click.echo(check_text(net_, reach, results, findings))
    sys.exit(EXIT_OK if all(r.ok for r in results) else EXIT_FAIL)


@net.command("diff")
@click.argument("network")
@click.option("--rules", required=True, help="the proposed rules file (its conduit sections replace the network's)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def diff(network: str, rules: str, as_json: bool) -> None:
    """Every flow whose outcome the proposed rules change, with the rule responsible, and the
    three-step differential check of the rules file's `intent:`."""
    import json

    from .diff import differential
    from .text import diff_json, diff_text

    before = _load(network, None)
    after = _load(network, rules)
    report = differential(before, after)
    if as_json:
        click.echo(json.dumps(diff_json(report), indent=2))
    else:
        click.echo(diff_text(report))
    sys.exit(EXIT_OK if report.ok else EXIT_FAIL)


def register(main_group: click.Group) -> None:
    """Add the `net` group to the `twin` command."""
    main_group.add_command(net)
