"""OPC UA server of plcsim, exercised with the real asyncua client over 127.0.0.1.

Two servers are started for the whole module: a plain one serving one PLC
(scanned every 10 ms by a background task, as the realtime serve loop does)
and a secured one serving two PLCs.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from plcsim.protocols.opcua_security import make_self_signed
from plcsim.protocols.opcua_server import start_opcua_server
from plcsim.runtime import Plc

pytestmark = pytest.mark.asyncio(loop_scope="module")

FILLER = """
PROGRAM Main
VAR
  start : BOOL;
  motor AT %QX0.0 : BOOL;
  level : REAL := 12.5;
  count : DINT;
  speed : INT;
  arr : ARRAY[1..4] OF INT;
  t1 : TON;
END_VAR
VAR CONSTANT limit : INT := 100; END_VAR
t1(IN := start, PT := T#50ms);
motor := t1.Q;
count := count + 1;
END_PROGRAM
"""

CAPPER = """
PROGRAM Capper
VAR
  torque : REAL := 1.5;
  caps : UDINT;
  old_flag : BOOL;
END_VAR
caps := caps + 1;
END_PROGRAM
"""

CAPPER_V2 = """
PROGRAM Capper
VAR
  torque : REAL := 1.5;
  caps : UDINT;
  jams : UINT;
END_VAR
caps := caps + 2;
END_PROGRAM
"""

PASSWORD = "s3cret-Pa55"
CLIENT_URI = "urn:twin:tests:opcua-client"


async def _scan_forever(plcs: list[Plc]) -> None:
    """What the realtime serve loop does: scan every cycle on the same event loop."""
    t0 = time.monotonic()
    while True:
        now_ms = int((time.monotonic() - t0) * 1000)
        for plc in plcs:
            plc.scan(now_ms)
        await asyncio.sleep(plcs[0].cycle_ms / 1000)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served():
    plc = Plc(FILLER, name="filler", cycle_ms=10)
    handle = await start_opcua_server(plc, "opc.tcp://127.0.0.1:0")
    scanner = asyncio.create_task(_scan_forever([plc]))
    client = Client(handle.endpoint)
    await client.connect()
    ns = await client.get_namespace_index("urn:twin:plcsim")
    try:
        yield plc, handle, client, ns
    finally:
        await client.disconnect()
        scanner.cancel()
        await handle.stop()


def node(client: Client, ns: int, path: str):
    return client.get_node(ua.NodeId(path, ns))


# --------------------------------------------------------------------------- browse


async def test_endpoint_port_was_picked(served):
    _, handle, client, _ = served
    assert not handle.endpoint.endswith(":0")
    endpoints = await client.get_endpoints()
    assert {e.EndpointUrl for e in endpoints} == {handle.endpoint}
    assert {e.SecurityPolicyUri for e in endpoints} == {"http://opcfoundation.org/UA/SecurityPolicy#None"}


async def test_browse_layout(served):
    plc, _, client, ns = served
    obj = await client.nodes.objects.get_child(f"{ns}:filler")
    assert obj.nodeid == ua.NodeId("filler", ns)
    children = {(await c.read_browse_name()).Name: c for c in await obj.get_children()}
    assert {"Start", "Stop", "Diagnostics", "start", "motor", "level", "count", "arr", "t1", "limit"} <= set(children)
    assert await children["Start"].read_node_class() == ua.NodeClass.Method
    assert await children["t1"].read_type_definition() == ua.NodeId(ua.ObjectIds.FolderType)
    members = {(await c.read_browse_name()).Name: c.nodeid for c in await children["t1"].get_children()}
    assert members == {m: ua.NodeId(f"Main.t1.{m}", ns) for m in ("IN", "PT", "Q", "ET")}


async def test_every_tag_is_a_node_with_its_type(served):
    plc, _, client, ns = served
    for t in plc.tags:
        n = node(client, ns, t.path)
        assert await n.read_data_type() == ua.NodeId(ua.VariantType[t.type.opcua].value), t.path
        access = await n.read_attribute(ua.AttributeIds.AccessLevel)
        writable = bool(access.Value.Value & ua.AccessLevel.CurrentWrite.mask)
        assert writable == t.writable, t.path
        rank = (await n.read_attribute(ua.AttributeIds.ValueRank)).Value.Value
        assert rank == (1 if t.is_array else -1), t.path
    arr = node(client, ns, "Main.arr")
    assert (await arr.read_attribute(ua.AttributeIds.ArrayDimensions)).Value.Value == [4]
    assert not (await node(client, ns, "Main.limit").read_attribute(ua.AttributeIds.AccessLevel)).Value.Value & 2
    assert not (await node(client, ns, "Main.t1.Q").read_attribute(ua.AttributeIds.AccessLevel)).Value.Value & 2


# ----------------------------------------------------------------------------- read


async def test_read_values(served):
    plc, _, client, ns = served
    level = await node(client, ns, "Main.level").read_data_value()
    assert level.Value.Value == 12.5 and level.Value.VariantType == ua.VariantType.Float
    assert level.SourceTimestamp is not None and level.StatusCode.is_good()
    assert await node(client, ns, "Main.limit").read_value() == 100
    arr = await node(client, ns, "Main.arr").read_data_value()
    assert arr.Value.VariantType == ua.VariantType.Int16 and len(arr.Value.Value) == 4
    first = await node(client, ns, "Main.count").read_value()
    await asyncio.sleep(0.05)
    second = await node(client, ns, "Main.count").read_value()
    assert second > first
    assert abs(plc.read("Main.count") - second) <= 3  # the address space trails the PLC by < 1 scan


# ---------------------------------------------------------------------------- write


async def test_write_accepted_reaches_the_plc(served):
    plc, _, client, ns = served
    await node(client, ns, "Main.speed").write_value(1234, ua.VariantType.Int16)
    assert plc.read("Main.speed") == 1234
    assert await node(client, ns, "Main.speed").read_value() == 1234  # read-your-write, no scan needed
    await node(client, ns, "Main.level").write_value(3.25, ua.VariantType.Float)
    assert plc.read("Main.level") == 3.25
    await node(client, ns, "Main.arr").write_value([1, -2, 3, 32767], ua.VariantType.Int16)
    assert plc.read("Main.arr") == [1, -2, 3, 32767]
    assert await node(client, ns, "Main.arr").read_value() == [1, -2, 3, 32767]


async def test_write_drives_the_program(served):
    plc, _, client, ns = served
    await node(client, ns, "Main.start").write_value(True)
    for _ in range(100):
        if await node(client, ns, "Main.motor").read_value():
            break
        await asyncio.sleep(0.01)
    assert plc.read("Main.motor") is True
    await node(client, ns, "Main.start").write_value(False)
    for _ in range(100):  # leave the timer idle, so later tests see a still PLC image
        if not plc.read("Main.t1.Q"):
            break
        await asyncio.sleep(0.01)
    assert plc.read("Main.motor") is False


@pytest.mark.parametrize(
    "path, value, vtype, expected",
    [
        ("Main.limit", 5, ua.VariantType.Int16, ua.uaerrors.BadNotWritable),  # VAR CONSTANT
        ("Main.t1.Q", True, ua.VariantType.Boolean, ua.uaerrors.BadNotWritable),  # FB output
        ("Main.speed", 70000, ua.VariantType.Int32, ua.uaerrors.BadOutOfRange),  # INT range
        ("Main.arr", [1, 2, 3, 40000], ua.VariantType.Int32, ua.uaerrors.BadOutOfRange),
        ("Main.arr", [1, 2], ua.VariantType.Int16, ua.uaerrors.BadOutOfRange),  # wrong length
        ("Main.speed", 1.5, ua.VariantType.Double, ua.uaerrors.BadOutOfRange),  # not integral
        ("Main.level", "high", ua.VariantType.String, ua.uaerrors.BadTypeMismatch),
        ("filler.Diagnostics.ScanCount", 0, ua.VariantType.UInt64, ua.uaerrors.BadNotWritable),
    ],
)
async def test_write_rejected_leaves_value(served, path, value, vtype, expected):
    plc, _, client, ns = served
    n = node(client, ns, path)
    before_node = await n.read_value()
    before_plc = plc.read(path) if not path.startswith("filler.") else None
    with pytest.raises(expected):
        await n.write_value(value, vtype)
    if before_plc is not None:
        assert plc.read(path) == before_plc
        assert await n.read_value() == before_node


async def test_write_status_per_node_in_one_request(served):
    plc, _, client, ns = served
    nodes = [node(client, ns, "Main.speed"), node(client, ns, "Main.limit"), node(client, ns, "Main.level")]
    values = [ua.DataValue(ua.Variant(v, t)) for v, t in
              ((-7, ua.VariantType.Int16), (1, ua.VariantType.Int16), (0.5, ua.VariantType.Float))]
    codes = await client.uaclient.write_attributes([n.nodeid for n in nodes], values, ua.AttributeIds.Value)
    assert [c.name for c in codes] == ["Good", "BadNotWritable", "Good"]
    assert plc.read("Main.speed") == -7 and plc.read("Main.level") == 0.5 and plc.read("Main.limit") == 100


# ----------------------------------------------------------------------- subscribe


class _Collector:
    def __init__(self, plc: Plc, path: str) -> None:
        self.plc, self.path = plc, path
        self.lag_cycles: list[int] = []
        self.values: list = []

    def datachange_notification(self, node, val, data):
        # how many scans happened between the one that produced this value and its arrival
        self.values.append(val)
        self.lag_cycles.append(self.plc.read(self.path) - val)


async def test_data_change_arrives_within_two_cycles(served):
    plc, _, client, ns = served
    col = _Collector(plc, "Main.count")
    sub = await client.create_subscription(plc.cycle_ms, col)
    try:
        await sub.subscribe_data_change(node(client, ns, "Main.count"))
        await asyncio.sleep(0.6)
    finally:
        await sub.delete()
    lags = col.lag_cycles[1:]  # the first is the initial value, not a change
    assert len(lags) >= 20, col.values
    assert col.values[1:] == sorted(col.values[1:])
    assert max(lags) <= 2, lags


async def test_in_process_change_published_while_stopped(served):
    plc, handle, client, ns = served
    plc.stop()  # no scans run now, so no scan hook either
    try:
        plc.write("Main.speed", 321)
        handle.publish()
        assert await node(client, ns, "Main.speed").read_value() == 321
        assert await node(client, ns, "filler.Diagnostics.Mode").read_value() == "STOP"
        plc.write("Main.speed", 322)
        await asyncio.sleep(0.25)  # the fallback publisher picks it up without publish()
        assert await node(client, ns, "Main.speed").read_value() == 322
    finally:
        plc.start()


# --------------------------------------------------------------- methods, diagnostics


async def test_start_stop_methods(served):
    plc, _, client, ns = served
    obj = node(client, ns, "filler")
    mode = node(client, ns, "filler.Diagnostics.Mode")
    try:
        await obj.call_method(ua.NodeId("filler.Stop", ns))
        assert plc.mode == "STOP"
        assert await mode.read_value() == "STOP"
        frozen = await node(client, ns, "Main.count").read_value()
        await asyncio.sleep(0.05)
        assert await node(client, ns, "Main.count").read_value() == frozen
        await obj.call_method(ua.NodeId("filler.Start", ns))
        assert plc.mode == "RUN"
        assert await mode.read_value() == "RUN"
    finally:
        plc.start()


async def test_diagnostics_nodes(served):
    plc, _, client, ns = served
    d = "filler.Diagnostics."
    scans = await node(client, ns, d + "ScanCount").read_data_value()
    assert scans.Value.VariantType == ua.VariantType.UInt64
    assert 0 < scans.Value.Value <= plc.diag.scan_count
    await asyncio.sleep(0.05)
    assert await node(client, ns, d + "ScanCount").read_value() > scans.Value.Value
    assert await node(client, ns, d + "ProgramHash").read_value() == plc.program_hash
    assert await node(client, ns, d + "ProgramVersion").read_value() == plc.version
    assert await node(client, ns, d + "Mode").read_value() == "RUN"
    assert await node(client, ns, d + "CycleMs").read_value() == 10
    assert await node(client, ns, d + "LastScanUs").read_value() > 0
    assert await node(client, ns, d + "MaxScanUs").read_value() > 0
    assert await node(client, ns, d + "Overruns").read_value() == plc.diag.overruns
    for name in ("ScanCount", "Mode", "ProgramHash"):
        access = await node(client, ns, d + name).read_attribute(ua.AttributeIds.AccessLevel)
        assert access.Value.Value == ua.AccessLevel.CurrentRead.mask


# ------------------------------------------------------------------ secured, 2 PLCs


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secured(tmp_path_factory):
    certs = tmp_path_factory.mktemp("opcua-certs")
    cert, key = make_self_signed(CLIENT_URI, "plcsim-tests")
    (certs / "client.der").write_bytes(cert)
    (certs / "client.pem").write_bytes(key)
    filler = Plc(FILLER, name="filler")
    capper = Plc(CAPPER, name="capper")
    handle = await start_opcua_server(
        [filler, capper], "opc.tcp://127.0.0.1:0", security=True,
        users={"operator": PASSWORD}, cert_dir=certs / "server",
    )
    try:
        yield handle, filler, capper, certs
    finally:
        await handle.stop()


async def _secure_client(handle, certs, user: str, password: str) -> Client:
    client = Client(handle.endpoint)
    client.application_uri = CLIENT_URI
    await client.set_security(SecurityPolicyBasic256Sha256, str(certs / "client.der"), str(certs / "client.pem"),
                              mode=ua.MessageSecurityMode.SignAndEncrypt)
    client.set_user(user)
    client.set_password(password)
    return client


async def test_secured_offers_no_none_endpoint(secured):
    handle, *_, certs = secured
    client = Client(handle.endpoint)
    endpoints = await client.connect_and_get_server_endpoints()
    assert [(e.SecurityPolicyUri, e.SecurityMode) for e in endpoints] == [
        (SecurityPolicyBasic256Sha256.URI, ua.MessageSecurityMode.SignAndEncrypt)]
    assert [t.TokenType for t in endpoints[0].UserIdentityTokens] == [ua.UserTokenType.UserName]
    assert (certs / "server" / "server_cert.der").is_file()


async def test_secured_wrong_password_is_refused(secured):
    handle, *_, certs = secured
    client = await _secure_client(handle, certs, "operator", "wrong")
    with pytest.raises(ua.uaerrors.BadUserAccessDenied):
        await client.connect()
    await client.disconnect()


async def _activate_on_plain_channel(endpoint: str, token) -> None:
    """What a client that ignores the endpoint list can do: SecurityPolicy#None channel, then a session."""
    client = Client(endpoint)
    await client.connect_socket()
    try:
        await client.send_hello()
        await client.open_secure_channel()
        params = ua.CreateSessionParameters()
        params.ClientNonce = b"n" * 32
        params.ClientDescription = ua.ApplicationDescription(ApplicationUri=CLIENT_URI,
                                                             ApplicationType=ua.ApplicationType.Client)
        params.EndpointUrl = endpoint
        params.SessionName = "intruder"
        params.RequestedSessionTimeout = 10_000
        await client.uaclient.create_session(params)
        activate = ua.ActivateSessionParameters()
        activate.UserIdentityToken = token
        await client.uaclient.activate_session(activate)
    finally:
        client.disconnect_socket()


async def test_secured_plain_channel_is_refused_even_with_the_right_password(secured):
    handle, *_ = secured
    # the stock asyncua client will not even try (no None endpoint is offered) ...
    with pytest.raises(ua.UaError):
        async with Client(handle.endpoint):
            pass
    # ... but asyncua's server would take a session on a None channel; ours must not
    token = ua.UserNameIdentityToken(PolicyId="username", UserName="operator", Password=PASSWORD.encode())
    with pytest.raises(ua.uaerrors.BadUserAccessDenied):
        await _activate_on_plain_channel(handle.endpoint, token)
    with pytest.raises(ua.uaerrors.BadIdentityTokenRejected):
        await _activate_on_plain_channel(handle.endpoint, ua.AnonymousIdentityToken(PolicyId="anonymous"))


async def test_secured_right_password_two_plcs(secured):
    handle, filler, capper, certs = secured
    client = await _secure_client(handle, certs, "operator", PASSWORD)
    async with client:
        ns_f = await client.get_namespace_index("urn:twin:plcsim:filler")
        ns_c = await client.get_namespace_index("urn:twin:plcsim:capper")
        assert ns_f != ns_c and handle.namespaces == {"filler": ns_f, "capper": ns_c}
        assert await client.get_node(ua.NodeId("Main.level", ns_f)).read_value() == 12.5
        assert await client.get_node(ua.NodeId("Capper.torque", ns_c)).read_value() == 1.5
        await client.get_node(ua.NodeId("Capper.torque", ns_c)).write_value(2.5, ua.VariantType.Float)
        assert capper.read("Capper.torque") == 2.5
        with pytest.raises(ua.uaerrors.BadNotWritable):
            await client.get_node(ua.NodeId("Main.limit", ns_f)).write_value(1, ua.VariantType.Int16)
        await client.get_node(ua.NodeId("capper", ns_c)).call_method(ua.NodeId("capper.Stop", ns_c))
        assert capper.mode == "STOP" and filler.mode == "RUN"
        await client.get_node(ua.NodeId("capper", ns_c)).call_method(ua.NodeId("capper.Start", ns_c))
        assert capper.mode == "RUN"


class _Statuses:
    def __init__(self) -> None:
        self.codes: list[str] = []

    def datachange_notification(self, node, val, data):
        self.codes.append(data.monitored_item.Value.StatusCode.name)


async def test_online_change_updates_nodes(secured):
    handle, _, capper, certs = secured
    client = await _secure_client(handle, certs, "operator", PASSWORD)
    async with client:
        ns = handle.namespaces["capper"]
        assert handle.node_id("Capper.torque", capper) == ua.NodeId("Capper.torque", ns)
        old_hash = await client.get_node(ua.NodeId("capper.Diagnostics.ProgramHash", ns)).read_value()
        capper.write("Capper.torque", 2.5)
        statuses = _Statuses()
        sub = await client.create_subscription(10, statuses)
        await sub.subscribe_data_change(client.get_node(ua.NodeId("Capper.old_flag", ns)))
        capper.load(CAPPER_V2, version="v2")
        capper.scan(1000)  # the staged program is installed at the scan boundary
        await asyncio.sleep(0.1)
        assert statuses.codes == ["Good", "BadNodeIdUnknown"]  # initial value, then the node went away
        with pytest.raises(ua.uaerrors.BadNodeIdUnknown):
            await client.get_node(ua.NodeId("Capper.old_flag", ns)).read_value()
        jams = client.get_node(ua.NodeId("Capper.jams", ns))
        assert await jams.read_data_type() == ua.NodeId(ua.ObjectIds.UInt16)
        assert await client.get_node(ua.NodeId("Capper.torque", ns)).read_value() == 2.5  # state kept
        assert await client.get_node(ua.NodeId("capper.Diagnostics.ProgramVersion", ns)).read_value() == "v2"
        assert await client.get_node(ua.NodeId("capper.Diagnostics.ProgramHash", ns)).read_value() != old_hash
        names = {(await c.read_browse_name()).Name for c in await client.get_node(ua.NodeId("capper", ns)).get_children()}
        assert "jams" in names and "old_flag" not in names
        await sub.delete()
