"""The soft PLC: scan cycle, modes, online change, snapshot/restore, request handling.

A ``Plc`` owns one compiled PROGRAM instance. It has no clock of its own:
the caller passes ``now_ms`` to every ``scan`` (wall clock in ``serve``, the
SimPy clock when the twin drives it), which is what makes virtual-time runs
exactly reproducible.

Scan = latch inputs -> execute -> publish outputs. Inputs written from
outside (``set_input``, the twin's I/O image) are latched at the start of the
next scan, so the program sees one consistent input image per scan.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from . import requests as rq
from .config import PlcConfig
from .st.compiler import CompiledProgram, PlcRuntimeError, compile_file, compile_source
from .tags import TagInfo

RUN, STOP, FAULT = "RUN", "STOP", "FAULT"
SNAPSHOT_FORMAT = 1


class TagError(KeyError):
    """Unknown tag or a value the tag cannot take."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0])


@dataclass
class Diagnostics:
    scan_count: int = 0
    last_scan_us: float = 0.0
    max_scan_us: float = 0.0
    total_scan_us: float = 0.0
    overruns: int = 0  # scans that ran past the start of their next slot (real-time loop)
    last_now_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "scan_count": self.scan_count,
            "last_scan_us": round(self.last_scan_us, 3),
            "max_scan_us": round(self.max_scan_us, 3),
            "avg_scan_us": round(self.total_scan_us / self.scan_count, 3) if self.scan_count else 0.0,
            "overruns": self.overruns,
        }


class Plc:
    def __init__(
        self,
        program: CompiledProgram | str | Path,
        *,
        name: str = "plc",
        cycle_ms: int = 10,
        config: PlcConfig | None = None,
        version: str | None = None,
        start: bool = True,
    ) -> None:
        self.name = name
        self.cycle_ms = int(cycle_ms)
        self.config = config or PlcConfig()
        self.diag = Diagnostics()
        self.mode = STOP
        self.fault: str | None = None
        self._pending: tuple[CompiledProgram, str] | None = None
        self._scan_hooks: list[Callable[["Plc"], None]] = []
        # called when something outside the scan changes the PLC (a write, a mode change, a
        # download): a scheduler that skips idle scans must then scan again
        self.on_external_change: Callable[[], None] | None = None
        compiled = _as_compiled(program)
        self._install(compiled, version or compiled.hash[:12], keep_state=False)
        if start:
            self.mode = RUN

    # ---------------------------------------------------------------- program
    def _install(self, compiled: CompiledProgram, version: str, keep_state: bool) -> None:
        # build everything that can fail first, so a bad config never leaves a half-switched PLC
        tags, modbus_map = self._tags_and_map(compiled)
        old = getattr(self, "_inst", None)
        old_prog = getattr(self, "program", None)
        inst = compiled.new_instance(self)
        if keep_state and old is not None and old_prog is not None:
            compiled.carry_over(old_prog, old, inst)
        self.program = compiled
        self.version = version
        self._inst = inst
        self._taglist = tags
        self._tags = {t.path.lower(): t for t in tags}
        self.modbus_map = modbus_map
        # physical inputs stay driven across an online change (the plant did not change);
        # keyed by the instance attribute: located variables live only at program level
        prev_inputs = getattr(self, "_inputs", {}) if keep_state else {}
        attrs = {_attr(t) for t in tags if t.location is not None and t.location.is_input}
        self._inputs: dict[str, Any] = {k: v for k, v in prev_inputs.items() if k in attrs}

    def _touched(self) -> None:
        if self.on_external_change is not None:
            self.on_external_change()

    def _tags_and_map(self, compiled: CompiledProgram):
        from .modbus_map import ModbusMap  # local: keeps `import plcsim.runtime` light

        read_only = {r.lower() for r in self.config.read_only}
        tags = [replace(t, writable=False) if _names(t) & read_only else t for t in compiled.tags]
        return tags, ModbusMap(tags, self.config.tag_map, source=self.config.source)

    def load(self, program: CompiledProgram | str | Path, version: str | None = None) -> None:
        """Online change: stage a new program; it takes effect at the next scan boundary.

        Variables with the same path and type keep their values; RETAIN
        variables always survive. In STOP it is installed at once.
        """
        compiled = _as_compiled(program)
        label = version or compiled.hash[:12]
        self._tags_and_map(compiled)  # a config that no longer fits fails now, not at the scan
        if self.mode == RUN:
            self._pending = (compiled, label)
        else:
            self._install(compiled, label, keep_state=True)
        self._touched()

    @property
    def has_pending_change(self) -> bool:
        return self._pending is not None

    def is_idle_after(self, key_before: tuple) -> bool:
        """True when the last scan changed nothing that can influence a later scan."""
        return self.mode != RUN or (self._pending is None and self.program.state_key(self._inst) == key_before)

    def state_key(self) -> tuple:
        return self.program.state_key(self._inst)

    def next_timer_event(self) -> int | None:
        return self.program.next_timer_event(self._inst) if self.mode == RUN else None

    def download(self, program: CompiledProgram | str | Path, version: str | None = None) -> None:
        """A full download (not an online change): the new program starts from its initial values."""
        compiled = _as_compiled(program)
        self._pending = None
        self._install(compiled, version or compiled.hash[:12], keep_state=False)
        self._touched()

    def config_fingerprint(self) -> str:
        """A hash of the PLC's configuration (identity, tag map, safe state, read-only tags)."""
        c = self.config
        doc = {"identity": [c.vendor, c.product, c.product_code, c.version, c.vendor_url, c.model],
               "tag_map": [[e.tag, e.table, e.address] for e in c.tag_map],
               "safe_state": sorted((k, repr(v)) for k, v in c.safe_state.items()),
               "read_only": sorted(c.read_only), "cycle_ms": self.cycle_ms}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    @property
    def program_hash(self) -> str:
        return self.program.hash

    # ------------------------------------------------------------------ modes
    def restart(self, *, cold: bool = False) -> None:
        """Warm restart keeps RETAIN variables and re-initialises the rest; cold resets all."""
        kept = {} if cold else self.retained()
        self._install(self.program, self.version, keep_state=False)
        for path, value in kept.items():
            self.program.setters[path.lower()](self._inst, value)
        self.mode = RUN
        self.fault = None
        self._touched()

    def start(self) -> None:
        if self.mode == FAULT:
            self.fault = None
        self.mode = RUN
        self._touched()

    def stop(self) -> None:
        self.mode = STOP
        self._touched()

    def add_scan_hook(self, hook: Callable[["Plc"], None]) -> None:
        """Called after every executed scan (protocol servers publish from here)."""
        self._scan_hooks.append(hook)

    def remove_scan_hook(self, hook: Callable[["Plc"], None]) -> None:
        if hook in self._scan_hooks:
            self._scan_hooks.remove(hook)

    # ------------------------------------------------------------------- scan
    @property
    def now_ms(self) -> int:
        """The PLC clock as seen by timers in the current scan."""
        return self.diag.last_now_ms

    def scan(self, now_ms: int) -> None:
        """Run one scan at PLC time ``now_ms`` (the caller's clock: wall or virtual)."""
        if self._pending is not None:
            compiled, label = self._pending
            self._pending = None
            self._install(compiled, label, keep_state=True)
        self.diag.last_now_ms = int(now_ms)
        if self.mode != RUN:
            return
        inst = self._inst
        for attr, value in self._inputs.items():  # latch the input image
            setattr(inst, attr, value)
        t0 = time.perf_counter_ns()
        try:
            self.program.execute(inst)
        except PlcRuntimeError as exc:
            self.mode = FAULT
            self.fault = str(exc)
        dt = (time.perf_counter_ns() - t0) / 1000.0
        d = self.diag
        d.scan_count += 1
        d.last_scan_us = dt
        d.total_scan_us += dt
        if dt > d.max_scan_us:
            d.max_scan_us = dt
        for hook in self._scan_hooks:
            hook(self)

    # ------------------------------------------------------------------- tags
    @property
    def tags(self) -> list[TagInfo]:
        return self._taglist

    def tag(self, path: str) -> TagInfo:
        key = path.lower()
        t = self._tags.get(key)
        if t is None:
            # accept a bare variable name for the program's own variables
            t = self._tags.get(f"{self.program.name.lower()}.{key}")
        if t is None:
            raise TagError(f"{self.name}: unknown tag {path!r}")
        return t

    def read(self, path: str) -> Any:
        t = self.tag(path)
        return self.program.getters[t.path.lower()](self._inst)

    def write(self, path: str, value: Any, *, force: bool = False) -> None:
        """Write a tag now (between scans). Inputs are latched at the next scan.

        Writes to CONSTANT or read-only tags raise TagError unless ``force``.
        """
        t = self.tag(path)
        if not force and not t.writable:
            raise TagError(f"{self.name}: tag {t.path} is read-only")
        value = _coerce(t, value)
        key = t.path.lower()
        if t.location is not None and t.location.is_input:
            self._inputs[_attr(t)] = value
        self.program.setters[key](self._inst, value)
        self._touched()

    def set_input(self, path: str, value: Any) -> None:
        """Drive a physical input (%I...): latched at the start of the next scan."""
        t = self.tag(path)
        if t.location is None or not t.location.is_input:
            raise TagError(f"{self.name}: {t.path} is not a physical input (%I...)")
        self._inputs[_attr(t)] = _coerce(t, value)

    def input_writer(self, path: str) -> Callable[[Any], None]:
        """A fast setter for one physical input, for callers that drive it every scan (the twin)."""
        t = self.tag(path)
        if t.location is None or not t.location.is_input:
            raise TagError(f"{self.name}: {t.path} is not a physical input (%I...)")
        attr, norm = _attr(t), t.type.normalise

        def write(value: Any) -> None:
            self._inputs[attr] = norm(value)

        return write

    def output_reader(self, path: str) -> Callable[[], Any]:
        """A fast reader of one physical output as the plant sees it (safe state unless RUN)."""
        t = self.tag(path)
        if t.location is None or t.location.area != "Q":
            raise TagError(f"{self.name}: {t.path} is not a physical output (%Q...)")
        key = t.path.lower()
        bare = t.path.split(".", 1)[-1].lower()
        safe = {k.lower(): v for k, v in self.config.safe_state.items()}
        safe_value = t.type.normalise(safe.get(bare, safe.get(key, t.type.default())))

        def read() -> Any:
            if self.mode != RUN:
                return safe_value
            return self.program.getters[key](self._inst)

        return read

    def values(self) -> dict[str, Any]:
        """Every tag's current value, keyed by its path."""
        inst = self._inst
        g = self.program.getters
        return {t.path: g[t.path.lower()](inst) for t in self._taglist}

    def outputs(self) -> dict[str, Any]:
        """Physical outputs (%Q...) as the plant sees them: the safe state unless RUN."""
        return {t.path: self.output_reader(t.path)() for t in self._taglist
                if t.location is not None and t.location.area == "Q"}

    # -------------------------------------------------------- snapshot/restore
    def snapshot(self) -> bytes:
        """Program, memory (incl. FB/timer internals), mode, counters: canonical bytes."""
        doc = {
            "format": SNAPSHOT_FORMAT,
            "name": self.name,
            "program": {"hash": self.program.hash, "version": self.version, "source": self.program.source,
                        "filename": self.program.filename},
            "state": self.program.dump_state(self._inst),
            "inputs": dict(sorted(self._inputs.items())),
            "mode": self.mode,
            "fault": self.fault,
            "diag": {"scan_count": self.diag.scan_count, "overruns": self.diag.overruns,
                     "last_now_ms": self.diag.last_now_ms},
            "pending": None if self._pending is None else {
                "source": self._pending[0].source, "filename": self._pending[0].filename,
                "version": self._pending[1]},
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()

    def restore(self, snap: bytes) -> None:
        doc = json.loads(snap)
        if doc.get("format") != SNAPSHOT_FORMAT:
            raise ValueError("snapshot format not supported")
        prog = doc["program"]
        compiled = compile_source(prog["source"], prog["filename"])
        self._install(compiled, prog["version"], keep_state=False)
        self.program.load_state(self._inst, doc["state"])
        self._inputs = dict(doc["inputs"])
        self.mode = doc["mode"]
        self.fault = doc["fault"]
        d = doc["diag"]
        self.diag.scan_count, self.diag.overruns, self.diag.last_now_ms = d["scan_count"], d["overruns"], d["last_now_ms"]
        p = doc["pending"]
        self._pending = None if p is None else (compile_source(p["source"], p["filename"]), p["version"])
        self._touched()

    def state_hash(self) -> str:
        return hashlib.sha256(self.snapshot()).hexdigest()

    def retained(self) -> dict[str, Any]:
        """Values of RETAIN variables, by path."""
        return {t.path: self.read(t.path) for t in self._taglist if t.retain}

    # --------------------------------------------------------------- requests
    def handle(self, request: Any) -> Any:
        """Serve one decoded protocol operation (the socket servers call this too)."""
        if isinstance(request, rq.ModbusRequest):
            return self.modbus_map.handle(self, request)
        if isinstance(request, rq.OpcRead):
            vals = []
            for p in request.paths:
                try:
                    vals.append(self.read(p))
                except TagError:
                    return rq.OpcResult("BadNodeIdUnknown")
            return rq.OpcResult("Good", tuple(vals))
        if isinstance(request, rq.OpcWrite):
            try:
                t = self.tag(request.path)
            except TagError:
                return rq.OpcResult("BadNodeIdUnknown")
            if not t.writable:
                return rq.OpcResult("BadNotWritable")
            if not _fits(t, request.value):
                return rq.OpcResult("BadOutOfRange" if _same_kind(t, request.value) else "BadTypeMismatch")
            self.write(t.path, request.value)
            return rq.OpcResult("Good")
        if isinstance(request, rq.OpcCall):
            if request.method == "Start":
                self.start()
            elif request.method == "Stop":
                self.stop()
            else:
                return rq.OpcResult("BadMethodInvalid")
            return rq.OpcResult("Good")
        raise TypeError(f"unsupported request {type(request).__name__}")


def _as_compiled(program: CompiledProgram | str | Path) -> CompiledProgram:
    if isinstance(program, CompiledProgram):
        return program
    if isinstance(program, Path) or (isinstance(program, str) and "\n" not in program and program.endswith(".st")):
        return compile_file(Path(program))
    return compile_source(program, "<string>")


def _attr(t: TagInfo) -> str:
    return "v_" + t.path.split(".", 1)[1].lower()


def _names(t: TagInfo) -> set[str]:
    """The full path and the program-relative name, lower-case (config may use either)."""
    return {t.path.lower(), t.path.split(".", 1)[-1].lower()}


def _fits(t: TagInfo, value: Any) -> bool:
    if t.is_array:
        return isinstance(value, (list, tuple)) and len(value) == t.length and all(t.type.accepts(v) for v in value)
    return t.type.accepts(value)


def _same_kind(t: TagInfo, value: Any) -> bool:
    if t.is_array:
        return isinstance(value, (list, tuple))
    if t.type.kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coerce(t: TagInfo, value: Any) -> Any:
    if not _fits(t, value):
        shape = f"ARRAY of {t.length} {t.type.name}" if t.is_array else t.type.name
        raise TagError(f"value {value!r} does not fit tag {t.path} ({shape})")
    if t.is_array:
        return [t.type.normalise(v) for v in value]
    return t.type.normalise(value)
