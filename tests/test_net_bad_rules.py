"""Bad network and rules files: every mistake is one located error (file, line, field), never a traceback.

Each case copies the shipped network (scenarios/bottling/network.yaml and rules/) into a temporary folder,
applies one edit to one file and loads it from that folder with a relative path, so errors name
"rules/baseline.yaml". The expected line is the edited text's line holding a fragment, not a number.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from twin.model.errors import ScenarioError
from twin.net import load_network

SRC = Path(__file__).resolve().parents[1] / "scenarios" / "bottling"
N, B, G = "network.yaml", "rules/baseline.yaml", "rules/proposed-good.yaml"
HMI_READ = "- {action: allow, src: hmi, dst: role:plc, op: modbus.read, note: \"HMI polling\"}"

CASES = [
    # id, file edited, old, new, fragment of the offending line (None: line 1), field, message fragment
    ("action-typo", B, "{action: allow, src: hmi, dst: role:plc, op: modbus.read",
     "{action: alow, src: hmi, dst: role:plc, op: modbus.read", "action: alow", "conduits.sup-ctrl.rules[0].action",
     "did you mean 'allow'?"),
    ("unknown-key", B, "{action: allow, src: hmi, dst: role:plc, op: modbus.read",
     "{action: allow, sorce: hmi, dst: role:plc, op: modbus.read", "sorce: hmi",
     "conduits.sup-ctrl.rules[0].sorce", "unknown key; did you mean 'src'?"),
    ("missing-default", B, "  ctrl-field:\n    default: deny\n", "  ctrl-field:\n", "  ctrl-field:",
     "conduits.ctrl-field.default", "required field is missing"),
    ("unknown-host", B, "src: hmi, dst: role:plc, op: modbus.read", "src: hmi2, dst: role:plc, op: modbus.read",
     "src: hmi2", "conduits.sup-ctrl.rules[0].src", "unknown host or zone 'hmi2'; did you mean 'hmi'?"),
    ("unknown-role", B, "dst: role:plc, op: modbus.read", "dst: role:plcs, op: modbus.read", "role:plcs",
     "conduits.sup-ctrl.rules[0].dst", "no host has role 'plcs'; did you mean 'plc'?"),
    ("unknown-in-list", B, "op: [opcua.read, opcua.browse, opcua.subscribe]}",
     "op: [opcua.read, opcua.browse, opcua.subscribe]}\n      - {action: deny, src: [hmi, histrian], dst: control}",
     "histrian", "conduits.sup-ctrl.rules[3].src[1]", "unknown host or zone 'histrian'; did you mean 'historian'?"),
    ("cidr-host-bits", B, "src: 10.10.0.0/24", "src: 10.10.0.1/24", "10.10.0.1/24",
     "conduits.sup-ctrl.rules[6].src", "10.10.0.1/24 has host bits set"),
    ("op-typo", B, "op: modbus.read, note: \"HMI", "op: modbus.raed, note: \"HMI", "modbus.raed",
     "conduits.sup-ctrl.rules[0].op", "did you mean 'modbus.read'?"),
    ("op-vs-proto", B, "op: modbus.read, note: \"HMI", "proto: opcua, op: modbus.read, note: \"HMI", "proto: opcua",
     "conduits.sup-ctrl.rules[0].op", "modbus.read is not carried by proto opcua"),
    ("fc-out-of-range", B, "modbus: {coils: [8, 9]}", "modbus: {fc: [5, 200], coils: [8, 9]}", "fc: [5, 200]",
     "conduits.sup-ctrl.rules[1].modbus.fc", "function code 200 is outside 1-127"),
    ("fc-vs-op", B, "modbus: {coils: [8, 9]}", "modbus: {fc: [3], coils: [8, 9]}", "fc: [3]",
     "conduits.sup-ctrl.rules[1].modbus.fc", "function codes 3 are not modbus.write"),
    ("range-backwards", B, "modbus: {coils: [8, 9]}", "modbus: {coils: \"9-8\"}", "9-8",
     "conduits.sup-ctrl.rules[1].modbus.coils", "runs backwards"),
    ("range-garbage", B, "modbus: {coils: [8, 9]}", "modbus: {coils: [8, nine]}", "nine",
     "conduits.sup-ctrl.rules[1].modbus.coils", "expected a address like 8 or a range like \"0-99\""),
    ("table-never-touched", B, "modbus: {coils: [8, 9]}", "modbus: {fc: [6, 16], coils: [8, 9]}", "fc: [6, 16]",
     "conduits.sup-ctrl.rules[1].modbus.coils", "no modbus.write function code touches coils"),
    ("modbus-on-opcua-op", B, "op: [opcua.read, opcua.browse, opcua.subscribe]}",
     "op: [opcua.read, opcua.browse, opcua.subscribe], modbus: {fc: 3}}", "modbus: {fc: 3}",
     "conduits.sup-ctrl.rules[2].modbus", "modbus matches need a Modbus operation"),
    ("service-vs-op", B, "op: opcua.call, opcua: {security: SignAndEncrypt}",
     "op: opcua.call, opcua: {service: write, security: SignAndEncrypt}", "service: write",
     "conduits.sup-ctrl.rules[4].opcua.service", "service write contradicts op opcua.call"),
    ("security-typo", B, "opcua: {security: SignAndEncrypt}", "opcua: {security: Encrypt}", "security: Encrypt",
     "conduits.sup-ctrl.rules[4].opcua.security", "did you mean 'SignAndEncrypt'?"),
    ("bad-port", B, "op: tcp, port: 3389, note: \"remote desktop", "op: tcp, port: rdp, note: \"remote desktop",
     "port: rdp", "conduits.it-dmz.rules[0].port", "expected a port like 8"),
    ("port-zero", B, "op: tcp, port: 3389, note: \"remote desktop", "op: tcp, port: 0, note: \"remote desktop",
     "port: 0", "conduits.it-dmz.rules[0].port", "port 0 is outside 1-65535"),
    ("empty-src-list", B, "src: hmi, dst: role:plc, op: modbus.read", "src: [], dst: role:plc, op: modbus.read",
     "src: []", "conduits.sup-ctrl.rules[0].src", "an empty list matches nothing"),
    ("stray-section", B, "  ctrl-field:\n", "  ctrl-feild:\n", "ctrl-feild:", "conduits.ctrl-feild",
     "no conduit 'ctrl-feild' in network.yaml; did you mean 'ctrl-field'?"),
    ("yaml-tab", B, "    default: deny\n    rules:\n      - {action: allow, src: enterprise, dst: jump",
     "    default: deny\n    rules:\n\t- {action: allow, src: enterprise, dst: jump", "\t- {action",
     "conduits.it-dmz.rules", "YAML syntax error"),
    ("not-a-mapping", B, None, "- just\n- a list\n", None, "", "expected a mapping (key: value) at the top level"),
    ("empty-file", B, None, "", None, "", "the file is empty"),
    # network.yaml
    ("rules-file-missing", N, "rules: rules/baseline.yaml}\n  dmz-sup",
     "rules: rules/basline.yaml}\n  dmz-sup", None, "", "file not found"),
    ("no-section", N, "ctrl-field: {zones: [control, field],       firewall: fw_ctrl,  rules: rules/baseline.yaml}",
     "ctrl-field: {zones: [control, field],       firewall: fw_ctrl,  rules: rules/proposed-good.yaml}",
     "ctrl-field: {zones", "conduits.ctrl-field.rules", "has no section for conduit ctrl-field (it has: sup-ctrl)"),
    ("required-expects-denied", N, "op: program_download}", "op: program_download, expect: denied}",
     "op: program_download, expect: denied", "required_flows[3].expect", "move it to forbidden_flows"),
    ("flow-unknown-host", N, "{from: it_ws, to: role:plc, op: modbus.write}",
     "{from: it_ws, to: fillr_plc, op: modbus.write}", "fillr_plc", "forbidden_flows[0].to",
     "did you mean 'filler_plc'?"),
    ("flow-fc-on-opcua", N, "{from: historian, to: role:plc, op: opcua.read}",
     "{from: historian, to: role:plc, op: opcua.read, fc: 3}", "op: opcua.read, fc: 3", "required_flows[2]",
     "fc and register/coil ranges narrow Modbus operations only"),
    ("flow-tcp-without-port", N, "{from: it_ws, to: jump, op: tcp, port: 3389,", "{from: it_ws, to: jump, op: tcp,",
     "{from: it_ws, to: jump, op: tcp,", "required_flows[5]", "a tcp or udp flow needs a port"),
    # proposed rules file: intent
    ("intent-without-expect", G, "{from: it_ws, to: role:plc, op: [modbus.write, modbus.diag], expect: denied}",
     "{from: it_ws, to: role:plc, op: [modbus.write, modbus.diag]}", "from: it_ws, to: role:plc",
     "intent[0].expect", "an intent flow needs expect: allowed or expect: denied"),
]


@pytest.fixture
def plant(tmp_path, monkeypatch):
    shutil.copy(SRC / N, tmp_path / N)
    shutil.copytree(SRC / "rules", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_one_located_error(plant, case):
    _id, file, old, new, at, field, msg = case
    path = plant / file
    if old is None:
        text = new
    else:
        before = path.read_text()
        assert before.count(old) == 1, f"{old!r} must occur once in {file}"
        text = before.replace(old, new)
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_network(N, G if file == G else None)
    e = info.value
    expected_line = 0 if msg == "file not found" else 1
    if at is not None:
        expected_line = next(i for i, line in enumerate(text.splitlines(), 1) if at in line)
    assert msg in e.message
    shown = "rules/basline.yaml" if msg == "file not found" else file
    assert (e.file, e.line, e.field) == (shown, expected_line, field)
    assert "\n" not in str(e) and str(e).startswith(f"{shown}:")


def test_override_naming_an_unknown_conduit(plant):
    (plant / "rules/extra.yaml").write_text("conduits:\n  sup-ctl:\n    default: deny\n")
    with pytest.raises(ScenarioError) as info:
        load_network(N, "rules/extra.yaml")
    e = info.value
    assert (e.file, e.line, e.field) == ("rules/extra.yaml", 2, "conduits.sup-ctl")
    assert "did you mean 'sup-ctrl'?" in e.message


def test_override_restricted_to_one_conduit(plant):
    net = load_network(N, "rules/proposed-good.yaml", conduits=["sup-ctrl"])
    assert net.rules_files["sup-ctrl"] == "rules/proposed-good.yaml"
    assert net.rules_files["it-dmz"] == "rules/baseline.yaml"
    with pytest.raises(ScenarioError, match="no section for conduit it-dmz"):
        load_network(N, "rules/proposed-good.yaml", conduits=["it-dmz"])
