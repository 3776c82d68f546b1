"""``plcsim`` command line: check, run (headless, virtual clock), serve (real time).

Heavy imports (pymodbus, asyncua) happen inside the commands that need them,
so ``plcsim --help`` and ``plcsim check`` stay fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .durations import DurationError, parse_duration_ms

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def _fail(msg: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"plcsim: {msg}", err=True)
    sys.exit(code)


def _load(path: str, cycle: str, config: str | None, name: str | None = None):
    from .config import ConfigError, PlcConfig
    from .runtime import Plc
    from .st.errors import StCompileError

    try:
        cycle_ms = parse_duration_ms(cycle)
    except DurationError as exc:
        _fail(f"--cycle: {exc}")
    if cycle_ms <= 0:
        _fail("--cycle: must be at least 1ms")
    try:
        cfg = PlcConfig.load(config) if config else None
        return Plc(Path(path), name=name or Path(path).stem, cycle_ms=cycle_ms, config=cfg)
    except StCompileError as exc:
        for e in exc.errors:
            click.echo(str(e), err=True)
        sys.exit(EXIT_ERRORS)
    except ConfigError as exc:
        _fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="twin")
def main() -> None:
    """plcsim: a soft PLC running IEC 61131-3 Structured Text, serving Modbus TCP and OPC UA."""


@main.command()
@click.argument("program", type=click.Path(dir_okay=False))
def check(program: str) -> None:
    """Parse and type-check PROGRAM; errors print as file:line:col: message."""
    from .st.compiler import compile_file
    from .st.errors import StCompileError

    try:
        cp = compile_file(program)
    except StCompileError as exc:
        for e in exc.errors:
            click.echo(str(e), err=True)
        sys.exit(EXIT_ERRORS)
    located = sum(1 for t in cp.tags if t.location)
    click.echo(f"{program}: OK: PROGRAM {cp.name}, {len(cp.tags)} tags ({located} located), sha256 {cp.hash[:16]}")


def _parse_sets(plc, sets: tuple[str, ...]) -> None:
    from .runtime import TagError

    for item in sets:
        name, sep, text = item.partition("=")
        if not sep:
            _fail(f"--set {item!r}: expected name=value")
        try:
            tag = plc.tag(name.strip())
        except TagError as exc:
            _fail(f"--set: {exc}")
        try:
            plc.write(tag.path, _parse_value(tag, text.strip()), force=True)
        except (ValueError, TagError) as exc:
            _fail(f"--set {item!r}: {exc}")


def _parse_value(tag, text: str):
    kind = tag.type.kind
    if kind == "bool":
        up = text.upper()
        if up in ("TRUE", "1"):
            return True
        if up in ("FALSE", "0"):
            return False
        raise ValueError("expected TRUE or FALSE")
    if kind == "real":
        return float(text)
    if kind == "time":
        return parse_duration_ms(text)
    return int(text, 0)


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


@main.command()
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--cycles", default=100, show_default=True, type=click.IntRange(1, 100_000_000))
@click.option("--cycle", default="10ms", show_default=True, help="scan cycle on the virtual clock")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="set a tag before the first scan")
@click.option("--watch", default="", metavar="A,B,...", help="tags to print (default: all located)")
@click.option("--every", default=0, type=click.IntRange(0), help="print every N cycles (default: on change)")
@click.option("--config", type=click.Path(dir_okay=False), help="PLC config YAML")
def run(program: str, cycles: int, cycle: str, sets: tuple[str, ...], watch: str, every: int, config: str | None) -> None:
    """Scan PROGRAM headless on a virtual clock and print watched values."""
    from .runtime import TagError

    plc = _load(program, cycle, config)
    _parse_sets(plc, sets)
    try:
        tags = [plc.tag(w.strip()) for w in watch.split(",") if w.strip()] or \
            [t for t in plc.tags if t.location is not None]
    except TagError as exc:
        _fail(f"--watch: {exc}")
    names = [t.path.split(".", 1)[1] for t in tags]
    click.echo("\t".join(["cycle", "t_ms"] + names))
    last = None
    for n in range(1, cycles + 1):
        plc.scan((n - 1) * plc.cycle_ms)
        row = [_fmt(plc.read(t.path)) for t in tags]
        due = (n % every == 0) if every else row != last
        if due or n == cycles:
            click.echo("\t".join([str(n), str((n - 1) * plc.cycle_ms)] + row))
        last = row
        if plc.mode == "FAULT":
            click.echo(f"plcsim: FAULT at cycle {n}: {plc.fault}", err=True)
            sys.exit(EXIT_ERRORS)


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        _fail(f"bad address {text!r}; expected host:port")
        raise  # unreachable


@main.command()
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--modbus", default="127.0.0.1:5020", show_default=True, help="Modbus TCP host:port ('off' to disable)")
@click.option("--opcua", default="opc.tcp://127.0.0.1:4840", show_default=True, help="OPC UA endpoint ('off' to disable)")
@click.option("--cycle", default="10ms", show_default=True)
@click.option("--config", type=click.Path(dir_okay=False), help="PLC config YAML (identity, tag map, safe state)")
@click.option("--name", default=None, help="PLC name (default: the file's stem)")
@click.option("--secure", is_flag=True, help="OPC UA: Basic256Sha256 Sign&Encrypt only, with users")
@click.option("--user", "users", multiple=True, metavar="NAME:PASSWORD", help="OPC UA user (with --secure)")
@click.option("--cert-dir", default=".plcsim-certs", show_default=True, help="where generated certificates live")
@click.option("--duration", default=None, help="stop after this long (e.g. 30s); default: until Ctrl-C")
def serve(program: str, modbus: str, opcua: str, cycle: str, config: str | None, name: str | None, secure: bool,
          users: tuple[str, ...], cert_dir: str, duration: str | None) -> None:
    """Run PROGRAM in real time, serving Modbus TCP and OPC UA."""
    import asyncio

    plc = _load(program, cycle, config, name)
    user_map = {}
    for u in users:
        uname, sep, pw = u.partition(":")
        if not sep or not uname:
            _fail(f"--user {u!r}: expected NAME:PASSWORD")
        user_map[uname] = pw
    if secure and not user_map:
        _fail("--secure needs at least one --user NAME:PASSWORD")
    stop_after = None
    if duration:
        try:
            stop_after = parse_duration_ms(duration) / 1000.0
        except DurationError as exc:
            _fail(f"--duration: {exc}")
    try:
        asyncio.run(_serve(plc, modbus, opcua, secure, user_map, cert_dir, stop_after))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        _fail(f"cannot serve: {exc.strerror or exc}", EXIT_ERRORS)


async def _serve(plc, modbus: str, opcua: str, secure: bool, users: dict, cert_dir: str, stop_after: float | None):
    import asyncio

    from .scan_loop import ScanLoop

    handles = []
    if modbus != "off":
        from .protocols.modbus_server import start_modbus_server

        host, port = _host_port(modbus, 502)
        h = await start_modbus_server(plc, host, port)
        handles.append(h)
        click.echo(f"modbus  tcp://{host}:{getattr(h, 'port', port)}")
    if opcua != "off":
        from .protocols.opcua_server import start_opcua_server

        h = await start_opcua_server(plc, opcua, security=secure, users=users or None, cert_dir=cert_dir)
        handles.append(h)
        click.echo(f"opcua   {h.endpoint}{'  (Basic256Sha256 SignAndEncrypt)' if secure else ''}")
    loop = ScanLoop(plc)
    loop.start()
    click.echo(f"{plc.name}: PROGRAM {plc.program.name} {plc.version} RUN, cycle {plc.cycle_ms} ms")
    try:
        if stop_after is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(stop_after)
    finally:
        await loop.stop()
        for h in handles:
            await h.stop()
        d = plc.diag.as_dict()
        click.echo(f"{plc.name}: stopped after {d['scan_count']} scans, max scan {d['max_scan_us']} us, "
                   f"overruns {d['overruns']}")


if __name__ == "__main__":  # pragma: no cover
    main()
