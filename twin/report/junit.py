"""JUnit XML: one test case per check, so any CI system shows a validation like a test run."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET


def to_xml(result) -> ET.Element:
    sc = result.journal["scenario"]
    suite = ET.Element("testsuite", {
        "name": f"twin.validate.{sc['id']}",
        "tests": str(len(result.checks)),
        "failures": str(sum(1 for c in result.checks if c.status == "FAIL")),
        "errors": "0",
        "skipped": str(sum(1 for c in result.checks if c.status == "INCONCLUSIVE")),
    })
    props = ET.SubElement(suite, "properties")
    for k, v in (("verdict", result.verdict), ("reason", result.reason), ("scenario_hash", sc["hash"]),
                 ("replications", str(result.journal["run"]["replications"]))):
        ET.SubElement(props, "property", {"name": k, "value": v})
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", {"classname": f"{sc['id']}.{c.kind}", "name": c.name})
        if c.status == "FAIL":
            el = ET.SubElement(case, "failure", {"message": c.message, "type": f"{c.severity}-check"})
            el.text = json.dumps(c.evidence, default=str)[:20000]
        elif c.status == "INCONCLUSIVE":
            # not a pass: CI systems show skipped cases, and the verdict property says why
            ET.SubElement(case, "skipped", {"message": f"INCONCLUSIVE: {c.message}"})
        ET.SubElement(case, "system-out").text = c.message
    root = ET.Element("testsuites", {"name": "twin"})
    root.append(suite)
    return root


def write_junit(result, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(to_xml(result))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
