"""One PLC in the OPC UA address space: its nodes, the values to publish, its writes and methods.

Layout (NodeIds are strings in the PLC's namespace)::

    Objects/
      <plc>                      object   "<plc>"
        Start(), Stop()          methods  "<plc>.Start", "<plc>.Stop"
        Diagnostics/             folder   "<plc>.Diagnostics"
          ScanCount, ...         read-only variables "<plc>.Diagnostics.ScanCount"
        <var>                    variable "<PROGRAM>.<var>"            (TagInfo.path)
        <inst>/                  folder   "<PROGRAM>.<inst>"
          <member>               variable "<PROGRAM>.<inst>.<member>"

Nodes are created and removed through asyncua's node-management service
directly (synchronous, no per-node round trip), so building a few thousand
tags is cheap and an online change can be applied between two scans.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from asyncua import ua
from asyncua.server.address_space import AttributeValue

from .. import requests as rq
from ..tags import TagInfo

if TYPE_CHECKING:
    from asyncua.server.internal_server import InternalServer

    from ..runtime import Plc

_log = logging.getLogger(__name__)

VALUE = ua.AttributeIds.Value
READ = ua.AccessLevel.CurrentRead.mask
READ_WRITE = READ | ua.AccessLevel.CurrentWrite.mask
_UNSET = object()
_FOLDER_TYPE = ua.NodeId(ua.ObjectIds.FolderType)
_OBJECT_TYPE = ua.NodeId(ua.ObjectIds.BaseObjectType)
_VAR_TYPE = ua.NodeId(ua.ObjectIds.BaseDataVariableType)
_ORGANIZES = ua.NodeId(ua.ObjectIds.Organizes)
_HAS_COMPONENT = ua.NodeId(ua.ObjectIds.HasComponent)

# Diagnostics: node name -> (data type, how to read it from the PLC)
DIAGNOSTICS: dict[str, tuple[ua.VariantType, Callable[["Plc"], Any]]] = {
    "ScanCount": (ua.VariantType.UInt64, lambda p: p.diag.scan_count),
    "LastScanUs": (ua.VariantType.Double, lambda p: float(p.diag.last_scan_us)),
    "MaxScanUs": (ua.VariantType.Double, lambda p: float(p.diag.max_scan_us)),
    "AvgScanUs": (ua.VariantType.Double,
                  lambda p: p.diag.total_scan_us / p.diag.scan_count if p.diag.scan_count else 0.0),
    "Overruns": (ua.VariantType.UInt64, lambda p: p.diag.overruns),
    "CycleMs": (ua.VariantType.UInt32, lambda p: p.cycle_ms),
    "Mode": (ua.VariantType.String, lambda p: p.mode),
    "Fault": (ua.VariantType.String, lambda p: p.fault or ""),
    "ProgramHash": (ua.VariantType.String, lambda p: p.program_hash),
    "ProgramVersion": (ua.VariantType.String, lambda p: p.version),
}
METHODS = ("Start", "Stop")


@dataclass(eq=False)
class ValueNode:
    """A variable whose value mirrors the PLC; ``attr`` is its Value attribute in the address space."""

    key: str  # tag path, or the diagnostics name
    nodeid: ua.NodeId
    vtype: ua.VariantType
    is_array: bool
    attr: AttributeValue
    parent: ua.NodeId
    signature: tuple = ()
    last: Any = field(default=_UNSET)


Change = tuple[ValueNode, Any]


def status(name: str) -> ua.StatusCode:
    """OpcResult status name -> StatusCode (unknown names are an internal error, not Good)."""
    return ua.StatusCode(getattr(ua.StatusCodes, name, ua.StatusCodes.BadInternalError))


def _same(a: Any, b: Any) -> bool:
    # NaN != NaN would make a NaN REAL look changed on every scan
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def _describe(t: TagInfo) -> str:
    shape = t.type.name
    if t.dims:
        shape = f"ARRAY[{', '.join(f'{lo}..{hi}' for lo, hi in t.dims)}] OF {shape}"
    extras = [shape]
    if t.location is not None:
        extras.append(f"AT {t.location}")
    if t.constant:
        extras.append("CONSTANT")
    if t.retain:
        extras.append("RETAIN")
    return " ".join(extras)


def _folder_prefixes(path: str, prog_name: str) -> list[str]:
    """Paths of the folders a tag sits in: "Main.t1.Q" -> ["Main.t1"] (the program is the PLC object)."""
    segs = path.split(".")
    first = 1 if len(segs) > 1 and segs[0].lower() == prog_name else 0
    return [".".join(segs[:k]) for k in range(first + 1, len(segs))]


class PlcNodes:
    """Builds and keeps in step the nodes of one PLC in namespace ``ns``."""

    def __init__(self, plc: "Plc", ns: int, iserver: "InternalServer", on_call: Callable[["PlcNodes"], None]) -> None:
        self.plc = plc
        self.ns = ns
        self._aspace = iserver.aspace
        self._mgt = iserver.node_mgt_service
        self._on_call = on_call  # the server publishes right after Start/Stop
        self.object_id = ua.NodeId(plc.name, ns)
        self.program: Any = None
        self.tags: dict[str, ValueNode] = {}  # by tag path
        self.diag: list[ValueNode] = []
        self.by_nodeid: dict[ua.NodeId, ValueNode] = {}
        self._folders: dict[str, ua.NodeId] = {}  # path prefix -> folder nodeid (FB instances)
        # (datachange callbacks, final DataValue) of removed nodes, for the server to deliver
        self.orphans: list[tuple[list[tuple[int, Any]], ua.DataValue]] = []

    # ------------------------------------------------------------------ build
    def build(self) -> None:
        plc, ns = self.plc, self.ns
        self._add_object(self.object_id, plc.name, ua.NodeId(ua.ObjectIds.ObjectsFolder), _ORGANIZES, _OBJECT_TYPE)
        for name in METHODS:
            self._add_method(name)
        diag_folder = ua.NodeId(f"{plc.name}.Diagnostics", ns)
        self._add_object(diag_folder, "Diagnostics", self.object_id, _HAS_COMPONENT, _FOLDER_TYPE)
        for name, (vtype, get) in DIAGNOSTICS.items():
            node = self._add_variable(ua.NodeId(f"{plc.name}.Diagnostics.{name}", ns), name, diag_folder,
                                      _ORGANIZES, vtype, get(plc), READ, description=f"{plc.name} diagnostics")
            self.diag.append(ValueNode(name, node.nodeid, vtype, False, node.attributes[VALUE], diag_folder))
        for vn in self.diag:
            self.by_nodeid[vn.nodeid] = vn
        self.sync_program()

    def _add(self, item: ua.AddNodesItem) -> Any:
        """Add one node under its parent; returns its NodeData.

        asyncua's add_nodes scans all the parent's references twice per new
        child, which is quadratic in the number of tags under the PLC object
        (0.4 s for 500 tags). So the node is added parentless and the two
        references are linked here: the parent's forward reference appended
        directly (the node is new, so it cannot be a duplicate), the child's
        inverse one through the reference service.
        """
        nodeid, parent, ref = item.RequestedNewNodeId, item.ParentNodeId, item.ReferenceTypeId
        if nodeid in self._aspace:
            raise ValueError(f"OPC UA: PLC {self.plc.name!r}: node {nodeid.to_string()} exists already "
                             "(a tag path collides with a node of the PLC object?)")
        pdata = self._aspace[parent]
        item.ParentNodeId = ua.NodeId()
        if list(self._mgt.try_add_nodes([item], check=False)):
            raise ValueError(f"OPC UA: PLC {self.plc.name!r}: cannot add node {nodeid.to_string()}")
        pdata.references.append(ua.ReferenceDescription(
            ReferenceTypeId=ref, IsForward=True, NodeId=nodeid, BrowseName=item.BrowseName,
            DisplayName=item.NodeAttributes.DisplayName, NodeClass=item.NodeClass, TypeDefinition=item.TypeDefinition))
        back = ua.AddReferencesItem(SourceNodeId=nodeid, ReferenceTypeId=ref, IsForward=False, TargetNodeId=parent)
        self._mgt.add_references([back])[0].check()
        return self._aspace[nodeid]

    def _add_object(self, nodeid: ua.NodeId, name: str, parent: ua.NodeId, ref: ua.NodeId, typedef: ua.NodeId) -> None:
        item = ua.AddNodesItem()
        item.RequestedNewNodeId = nodeid
        item.BrowseName = ua.QualifiedName(name, self.ns)
        item.NodeClass = ua.NodeClass.Object
        item.ParentNodeId = parent
        item.ReferenceTypeId = ref
        item.TypeDefinition = typedef
        attrs = ua.ObjectAttributes()
        attrs.DisplayName = ua.LocalizedText(name)
        attrs.Description = ua.LocalizedText(name)
        item.NodeAttributes = attrs
        self._add(item)

    def _add_method(self, name: str) -> None:
        nodeid = ua.NodeId(f"{self.plc.name}.{name}", self.ns)
        item = ua.AddNodesItem()
        item.RequestedNewNodeId = nodeid
        item.BrowseName = ua.QualifiedName(name, self.ns)
        item.NodeClass = ua.NodeClass.Method
        item.ParentNodeId = self.object_id
        item.ReferenceTypeId = _HAS_COMPONENT
        attrs = ua.MethodAttributes()
        attrs.DisplayName = ua.LocalizedText(name)
        attrs.Description = ua.LocalizedText(f"{name} the PLC ({'RUN' if name == 'Start' else 'STOP'})")
        attrs.Executable = True
        attrs.UserExecutable = True
        item.NodeAttributes = attrs
        self._add(item)

        # a coroutine function, so asyncua runs it on the event loop (plain functions go
        # to a thread pool, which would race the scan loop)
        async def call(parent: ua.NodeId, *args: Any) -> Any:
            if args:
                return ua.StatusCode(ua.StatusCodes.BadTooManyArguments)
            res = self.plc.handle(rq.OpcCall(name))
            self._on_call(self)
            return [] if res.ok else status(res.status)

        self._aspace.add_method_callback(nodeid, call)

    def _add_variable(self, nodeid: ua.NodeId, name: str, parent: ua.NodeId, ref: ua.NodeId,
                      vtype: ua.VariantType, value: Any, access: int, *, length: int | None = None,
                      description: str = "") -> Any:
        item = ua.AddNodesItem()
        item.RequestedNewNodeId = nodeid
        item.BrowseName = ua.QualifiedName(name, self.ns)
        item.NodeClass = ua.NodeClass.Variable
        item.ParentNodeId = parent
        item.ReferenceTypeId = ref
        item.TypeDefinition = _VAR_TYPE
        attrs = ua.VariableAttributes()
        attrs.DisplayName = ua.LocalizedText(name)
        attrs.Description = ua.LocalizedText(description or name)
        attrs.DataType = ua.NodeId(vtype.value)  # built-in DataType ids equal the VariantType numbers
        if length is None:
            attrs.Value = ua.Variant(value, vtype)
            attrs.ValueRank = ua.ValueRank.Scalar
        else:
            attrs.Value = ua.Variant(list(value), vtype, is_array=True)
            attrs.ValueRank = ua.ValueRank.OneDimension
            attrs.ArrayDimensions = [length]
        attrs.AccessLevel = access
        attrs.UserAccessLevel = access
        # values only change once per scan; tells clients not to sample faster
        attrs.MinimumSamplingInterval = float(self.plc.cycle_ms)
        item.NodeAttributes = attrs
        return self._add(item)

    # ----------------------------------------------------------- tags / online change
    def sync_program(self) -> None:
        """Bring the tag nodes in line with the PLC's current program (start-up, online change, restore).

        Tags whose path, type, shape and writability are unchanged keep their
        node (and its subscriptions); the others are removed and re-created.
        """
        plc = self.plc
        self.program = plc.program
        prog_name = str(getattr(plc.program, "name", "")).lower()
        values = plc.values()
        wanted: dict[str, tuple[TagInfo, tuple]] = {}
        for t in plc.tags:
            vtype = ua.VariantType[t.type.opcua]
            wanted[t.path] = (t, (vtype, t.dims, bool(t.writable)))
        for path in [p for p, vn in self.tags.items() if p not in wanted or wanted[p][1] != vn.signature]:
            self._remove(self.tags.pop(path))
        needed = {prefix for path in wanted for prefix in _folder_prefixes(path, prog_name)}
        for prefix in sorted(set(self._folders) - needed, key=len, reverse=True):
            self._delete(self._folders.pop(prefix), self._parent_of(prefix))
        for path, (t, sig) in wanted.items():
            if path in self.tags:
                continue
            parent, ref = self._ensure_folders(path, prog_name)
            nodeid = ua.NodeId(t.path, self.ns)
            value = values[t.path]
            node = self._add_variable(
                nodeid, t.path.rsplit(".", 1)[-1], parent, ref, sig[0], value,
                READ_WRITE if t.writable else READ, length=t.length if t.is_array else None,
                description=_describe(t))
            # last stays unset: the next publish stores the value again, with timestamps
            vn = ValueNode(t.path, nodeid, sig[0], t.is_array, node.attributes[VALUE], parent, sig)
            self.tags[t.path] = vn
            self.by_nodeid[nodeid] = vn

    def _parent_of(self, prefix: str) -> ua.NodeId:
        head = prefix.rsplit(".", 1)[0] if "." in prefix else ""
        if head in self._folders:
            return self._folders[head]
        return self.object_id

    def _ensure_folders(self, path: str, prog_name: str) -> tuple[ua.NodeId, ua.NodeId]:
        """Parent node and reference type for a tag, creating FB-instance folders on the way."""
        parent, ref = self.object_id, _HAS_COMPONENT
        for prefix in _folder_prefixes(path, prog_name):
            folder = self._folders.get(prefix)
            if folder is None:
                folder = ua.NodeId(prefix, self.ns)
                self._add_object(folder, prefix.rsplit(".", 1)[-1], parent, ref, _FOLDER_TYPE)
                self._folders[prefix] = folder
            parent, ref = folder, _ORGANIZES
        return parent, ref

    def _remove(self, vn: ValueNode) -> None:
        self.by_nodeid.pop(vn.nodeid, None)
        # subscribers of a vanished tag get one BadNodeIdUnknown data change (sent by the
        # server's notifier); the callbacks are taken off the node first, because asyncua's
        # delete would call these coroutine functions without awaiting them
        callbacks = list(vn.attr.datachange_callbacks.items())
        if callbacks:
            self.orphans.append((callbacks, ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown))))
        self._delete(vn.nodeid, vn.parent)

    def _delete(self, nodeid: ua.NodeId, parent: ua.NodeId) -> None:
        node = self._aspace.get(nodeid)
        if node is not None and VALUE in node.attributes:
            for handle in list(node.attributes[VALUE].datachange_callbacks):
                self._aspace.delete_datachange_callback(handle)
        item = ua.DeleteNodesItem()
        item.NodeId = nodeid
        item.DeleteTargetReferences = False  # True scans the whole address space; we know the one parent
        params = ua.DeleteNodesParameters()
        params.NodesToDelete = [item]
        self._mgt.delete_nodes(params)
        pdata = self._aspace.get(parent)
        if pdata is not None:
            pdata.references[:] = [r for r in pdata.references if r.NodeId != nodeid]

    # --------------------------------------------------------------- publishing
    def changes(self) -> list[Change]:
        """Values that differ from what was last published, with the PLC's current value."""
        out: list[Change] = []
        if self.plc.program is not self.program:
            self.sync_program()
        values = self.plc.values()
        for path, vn in self.tags.items():
            v = values[path]
            if not _same(v, vn.last):
                if vn.is_array:
                    v = list(v)  # own copy: a published value must never alias PLC memory
                vn.last = v
                out.append((vn, v))
        plc = self.plc
        for vn in self.diag:
            v = DIAGNOSTICS[vn.key][1](plc)
            if not _same(v, vn.last):
                vn.last = v
                out.append((vn, v))
        return out

    def change_of(self, vn: ValueNode) -> list[Change]:
        """The one tag's current value, as a change (after a client write)."""
        v = self.plc.read(vn.key)
        if vn.is_array:
            v = list(v)
        vn.last = v
        return [(vn, v)]

    # ------------------------------------------------------------------ writes
    def write(self, vn: ValueNode, wv: ua.WriteValue) -> tuple[ua.StatusCode, list[Change]]:
        """A client write to one of our variables, decided by the PLC itself (``Plc.handle``)."""
        if vn.key not in self.tags or self.tags[vn.key] is not vn:
            return ua.StatusCode(ua.StatusCodes.BadNotWritable), []  # diagnostics
        if wv.AttributeId != VALUE:
            return ua.StatusCode(ua.StatusCodes.BadNotWritable), []
        if wv.IndexRange:
            return ua.StatusCode(ua.StatusCodes.BadWriteNotSupported), []
        dv = wv.Value
        if dv is None or dv.Value is None or dv.Value.Value is None:
            return ua.StatusCode(ua.StatusCodes.BadTypeMismatch), []
        value = dv.Value.Value
        if isinstance(value, tuple):
            value = list(value)
        try:
            res = self.plc.handle(rq.OpcWrite(vn.key, value))
        except Exception:  # a client must never take the server down with an odd value
            _log.exception("%s: write of %r to %s failed", self.plc.name, value, vn.key)
            return ua.StatusCode(ua.StatusCodes.BadInternalError), []
        if not res.ok:
            return status(res.status), []
        return ua.StatusCode(), self.change_of(vn)
