"""Placeholder until the validation report lands: a minimal Markdown summary."""

from pathlib import Path


def write_validation_report(journal, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    lines = [f"# {journal['scenario']['id']}: {journal['verdict']}", "", journal["reason"], ""]
    for c in journal["checks"]:
        lines.append(f"- **{c['status']}** {c['name']}: {c['message']}")
    path = target / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
