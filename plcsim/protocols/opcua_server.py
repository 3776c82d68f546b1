"""OPC UA server for plcsim (asyncua): one server per process, one or more PLCs.

- Every tag is a variable ``ns=<urn:twin:plcsim>;s=<TagInfo.path>`` (see
  ``opcua_nodes`` for the layout). Several PLCs get a namespace each,
  ``urn:twin:plcsim:<plc name>``.
- Client writes to tags are decided by ``Plc.handle(OpcWrite)``, the code path
  in-process callers use, and its status goes back to the client. asyncua has
  no per-node write hook that can answer with a status (a value setter returns
  nothing), so the server's attribute service is replaced by a subclass that
  routes writes to our nodes.
- Publishing: a scan hook schedules one publish on the event loop (scans that
  run before it share it). The publish diffs ``Plc.values()`` against what was
  published and stores only changes, straight into the address space (not the
  client-facing write path). Subscriptions are told through the nodes'
  data-change callbacks, in order, by a single notifier task. A slow timer
  publishes too: the runtime runs no scan hooks in STOP, and in-process
  writes do not scan.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import urlparse

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AttributeService

from .opcua_nodes import Change, PlcNodes
from .opcua_security import PasswordUserManager, ensure_certificate

if TYPE_CHECKING:
    from ..runtime import Plc

_log = logging.getLogger(__name__)

NAMESPACE = "urn:twin:plcsim"
APPLICATION_URI = "urn:twin:plcsim:server"
DEFAULT_ENDPOINT = "opc.tcp://127.0.0.1:4840"


class _PublishedValue(ua.DataValue):
    """A DataValue that asyncua need not deep-copy.

    asyncua deep-copies the DataValue for every monitored item on every change
    (21 us each; the largest cost per notification), so that later in-place
    edits of a stored value cannot fool its change detection. Published values
    are never edited (each publish makes new ones), so the copy can be the
    object itself.
    """

    __slots__ = ()

    def __deepcopy__(self, memo: dict) -> "_PublishedValue":
        return self


class _RoutedAttributeService(AttributeService):
    """asyncua's attribute service, except that writes to PLC variables go to the PLC."""

    def __init__(self, aspace: Any, server: "OpcUaServer") -> None:
        super().__init__(aspace)
        self._server = server

    async def write(self, params: ua.WriteParameters, user: User = User(role=UserRole.Admin)) -> list[ua.StatusCode]:
        results: list[ua.StatusCode | None] = []
        others = ua.WriteParameters()
        slots: list[int] = []
        for wv in params.NodesToWrite:
            routed = self._server._route_write(wv)
            if routed is None:
                slots.append(len(results))
                others.NodesToWrite.append(wv)
            results.append(routed)
        if others.NodesToWrite:
            for i, res in zip(slots, await super().write(others, user)):
                results[i] = res
        return results  # type: ignore[return-value]


class OpcUaServer:
    """Handle of a running server: ``endpoint``, ``publish()``, ``await stop()``."""

    def __init__(self, plcs: Sequence["Plc"], *, poll_s: float) -> None:
        self.plcs = list(plcs)
        self.server = Server()
        self.endpoint = ""
        self.namespaces: dict[str, int] = {}  # plc name -> namespace index
        self.start_s = 0.0  # how long start_opcua_server took (reported by the benchmark)
        self._nodes: list[PlcNodes] = []
        self._by_ns: dict[int, PlcNodes] = {}
        self._poll_s = poll_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._publish_scheduled = False
        self._pending: list[tuple[list[tuple[int, Any]], ua.DataValue]] = []
        self._notifier: asyncio.Task | None = None
        self._poller: asyncio.Task | None = None
        self._hooks: list[tuple["Plc", Any]] = []
        self._stopped = False
        self._froze_gc = False

    # ------------------------------------------------------------ lookups
    def node_id(self, path: str, plc: "Plc | str | None" = None) -> ua.NodeId:
        """NodeId of a tag (``TagInfo.path``) or of ``<plc>.Diagnostics.X`` etc."""
        pn = self._pick(plc)
        return ua.NodeId(path, pn.ns)

    def _pick(self, plc: "Plc | str | None") -> PlcNodes:
        if plc is None:
            if len(self._nodes) != 1:
                raise ValueError("several PLCs are served; say which")
            return self._nodes[0]
        name = plc if isinstance(plc, str) else plc.name
        for pn in self._nodes:
            if pn.plc.name == name:
                return pn
        raise KeyError(f"no PLC named {name!r} on this server")

    # ---------------------------------------------------------- publishing
    def publish(self) -> None:
        """Copy every changed PLC value into the address space now (and notify subscribers)."""
        self._publish_scheduled = False
        if self._stopped:
            return
        changes: list[Change] = []
        for pn in self._nodes:
            try:
                changes += pn.changes()
            except Exception:  # one broken PLC image must not stop the others being published
                _log.exception("OPC UA: publishing PLC %s failed", pn.plc.name)
            if pn.orphans:
                self._pending += pn.orphans
                pn.orphans = []
        self._apply(changes)

    def _apply(self, changes: list[Change]) -> None:
        if not changes and not self._pending:
            return
        now = datetime.now(timezone.utc)
        pending = self._pending
        for vn, value in changes:
            dv = _PublishedValue(ua.Variant(value, vn.vtype, is_array=vn.is_array), SourceTimestamp=now,
                                 ServerTimestamp=now)
            # the same two steps as AddressSpace.write_attribute_value, minus its await: the value
            # is visible to reads at once, and monitored items are told in order by the notifier
            vn.attr.value = dv
            if vn.attr.datachange_callbacks:
                pending.append((list(vn.attr.datachange_callbacks.items()), dv))
        if pending and self._notifier is None and self._loop is not None:
            self._notifier = self._loop.create_task(self._notify())

    async def _notify(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                for callbacks, dv in batch:
                    for handle, cb in callbacks:
                        try:
                            await cb(handle, dv)
                        except KeyError:
                            pass  # monitored item deleted since the change was queued
                        except Exception:
                            _log.exception("OPC UA data change callback failed")
        finally:
            self._notifier = None

    def _on_scan(self, plc: "Plc") -> None:
        # runs inside Plc.scan: only mark, so scans that come in a burst publish once
        if not self._publish_scheduled and not self._stopped and self._loop is not None:
            self._publish_scheduled = True
            self._loop.call_soon(self.publish)

    def _after_call(self, pn: PlcNodes) -> None:
        self.publish()  # Start/Stop: Mode must change even though a stopped PLC runs no scan hooks

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            self.publish()

    # -------------------------------------------------------------- writes
    def _route_write(self, wv: ua.WriteValue) -> ua.StatusCode | None:
        pn = self._by_ns.get(wv.NodeId.NamespaceIndex)
        vn = pn.by_nodeid.get(wv.NodeId) if pn is not None else None
        if vn is None:
            return None  # not a PLC variable: asyncua's own rules apply
        code, changes = pn.write(vn, wv)
        if changes:
            self._apply(changes)
        return code

    # ------------------------------------------------------------ lifecycle
    async def _start(self, endpoint: str, security: bool, users: dict[str, str] | None,
                     cert_dir: str | Path | None) -> None:
        names = [p.name for p in self.plcs]
        if not names:
            raise ValueError("start_opcua_server: no PLC given")
        if len(set(names)) != len(names):
            raise ValueError(f"start_opcua_server: PLC names must be unique, got {names}")
        url = urlparse(endpoint)
        if url.scheme != "opc.tcp" or not url.hostname:
            raise ValueError(f"OPC UA endpoint must look like opc.tcp://host:port, got {endpoint!r}")
        srv = self.server
        srv.set_endpoint(endpoint if url.port is not None else f"opc.tcp://{url.hostname}:4840{url.path}")
        srv.set_server_name(f"plcsim ({', '.join(names)})")
        srv.product_uri = NAMESPACE
        srv.manufacturer_name = self.plcs[0].config.vendor
        # the clock task writes ServerStatus every second and makes stop() wait up to 1 s for it
        srv.disable_clock()
        srv.allow_remote_admin(False)
        srv.iserver.set_user_manager(PasswordUserManager(users, require_secure_channel=security))
        if security:
            if cert_dir is None:
                raise ValueError("security=True needs cert_dir (where the server certificate is kept)")
            cert, key = await asyncio.to_thread(ensure_certificate, cert_dir, APPLICATION_URI)
            await srv.load_certificate(str(cert))
            await srv.load_private_key(str(key))
            srv.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        else:
            srv.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if users:
            srv.set_identity_tokens([ua.UserNameIdentityToken])
            if not security:
                _log.warning("OPC UA users without security: passwords travel in clear text")
        else:
            srv.set_identity_tokens([ua.AnonymousIdentityToken])

        await srv.init()
        await srv.set_application_uri(APPLICATION_URI)  # before start(): the endpoints carry it
        cfg = self.plcs[0].config
        await srv.set_build_info(NAMESPACE, cfg.vendor, cfg.product, cfg.version, "0", datetime.now(timezone.utc))
        iserver = srv.iserver
        iserver.attribute_service = _RoutedAttributeService(iserver.aspace, self)
        single = len(self.plcs) == 1
        for plc in self.plcs:
            ns = await srv.register_namespace(NAMESPACE if single else f"{NAMESPACE}:{plc.name}")
            pn = PlcNodes(plc, ns, iserver, self._after_call)
            pn.build()
            self._nodes.append(pn)
            self._by_ns[ns] = pn
            self.namespaces[plc.name] = ns

        self._loop = asyncio.get_running_loop()
        await srv.start()
        self.endpoint = self._fix_endpoint()
        for plc in self.plcs:
            plc.add_scan_hook(self._on_scan)
            self._hooks.append((plc, self._on_scan))
        self.publish()
        self._poller = self._loop.create_task(self._poll())

    def _fix_endpoint(self) -> str:
        """The URL clients should use; with port 0 the OS picked the port only at bind time."""
        srv = self.server
        assert srv.bserver is not None
        url = srv.endpoint
        actual = url._replace(netloc=f"{url.hostname}:{srv.bserver.port}").geturl()
        if actual != url.geturl():
            srv.set_endpoint(actual)
            # endpoint descriptions were made before the bind; GetEndpoints serves these
            for edp in srv.iserver.endpoints:
                edp.EndpointUrl = actual
                edp.Server.DiscoveryUrls = [actual]
        return actual

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for plc, hook in self._hooks:
            plc.remove_scan_hook(hook)
        self._hooks.clear()
        for task in (self._poller, self._notifier):
            if task is not None:
                task.cancel()
        for task in (self._poller, self._notifier):
            if task is not None:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        await self.server.stop()
        if self._froze_gc:
            gc.unfreeze()  # let the stopped address space be collected (it is mostly reference cycles)

    async def __aenter__(self) -> "OpcUaServer":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


async def start_opcua_server(
    plcs: "Plc | Sequence[Plc]",
    endpoint: str = DEFAULT_ENDPOINT,
    *,
    security: bool = False,
    users: dict[str, str] | None = None,
    cert_dir: str | Path | None = None,
    poll_s: float = 0.1,
    freeze_gc: bool = True,
) -> OpcUaServer:
    """Serve one or more PLCs over OPC UA; returns the running server's handle.

    ``endpoint`` may use port 0 to let the OS pick a free port (``handle.endpoint``
    tells which). ``security=True`` offers only Basic256Sha256 Sign&Encrypt with
    a self-signed certificate kept in ``cert_dir``; ``users`` (name -> password)
    turns anonymous access off. ``poll_s`` is the fallback publish period for
    changes that no scan announces (PLC stopped, in-process writes).

    Garbage collection: asyncua's standard address space is ~460 000 long-lived
    Python objects. The cyclic GC is paused while it is built (start-up takes
    half the time), and with ``freeze_gc`` they are moved out of the
    collector's reach afterwards (``gc.freeze``), so a later full collection
    does not stall the scan loop for 150 ms; ``stop()`` undoes the freeze.
    Both are process-wide, hence the flag.
    """
    t0 = time.perf_counter()
    handle = OpcUaServer([plcs] if not isinstance(plcs, (list, tuple)) else plcs, poll_s=poll_s)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        await handle._start(endpoint, security, users, cert_dir)
    except BaseException:
        try:
            await handle.stop()
        except Exception:  # the start-up error is the one worth seeing
            _log.debug("cleanup after failed OPC UA start-up", exc_info=True)
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    if freeze_gc:
        gc.freeze()
        handle._froze_gc = True
    handle.start_s = time.perf_counter() - t0
    _log.info("OPC UA server on %s (%s) in %.2f s", handle.endpoint, ", ".join(handle.namespaces), handle.start_s)
    return handle
