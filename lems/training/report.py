"""Graded reports: a rich table per trainee, JSON, and an HTML page an instructor can print."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from lems.training.grading import Grade


def by_trainee(grades: Iterable[Grade]) -> dict[str, list[Grade]]:
    out: dict[str, list[Grade]] = {}
    for g in grades:
        out.setdefault(g.trainee, []).append(g)
    return out


def print_report(grades: list[Grade], console: Console) -> None:
    if not grades:
        console.print("No graded exercises yet (lems exercise run FILE --lab DIR).")
        return
    if not console.is_terminal:
        console.print(report_plain(grades), markup=False, soft_wrap=True)
        return
    for trainee, mine in by_trainee(grades).items():
        table = Table(title=f"Trainee {trainee}", show_lines=True)
        for col in ("exercise", "terminal", "started", "result", "score", "why"):
            table.add_column(col)
        for g in mine:
            table.add_row(
                g.exercise,
                g.terminal,
                g.started,
                "[green]PASS[/]" if g.passed else "[red]FAIL[/]",
                f"{g.score:.0%}",
                "\n".join(g.reasons()) or "all tasks done",
            )
        passed = sum(g.passed for g in mine)
        table.caption = f"{passed} of {len(mine)} exercises passed"
        console.print(table)


def report_plain(grades: list[Grade]) -> str:
    """The same report as plain lines (for pipes and logs)."""
    lines = []
    for trainee, mine in by_trainee(grades).items():
        passed = sum(g.passed for g in mine)
        lines.append(f"TRAINEE {trainee}: {passed} of {len(mine)} exercises passed")
        for g in mine:
            lines.append(
                f"  {'PASS' if g.passed else 'FAIL'} {g.exercise} at {g.terminal} "
                f"{g.started} score {g.score:.0%}"
            )
            lines.extend(f"    {r}" for r in g.reasons())
    return "\n".join(lines)


def report_json(grades: list[Grade]) -> str:
    return json.dumps(
        {t: [g.to_dict() for g in mine] for t, mine in by_trainee(grades).items()}, indent=2
    )


def report_html(grades: list[Grade], title: str = "LEMS training lab - graded exercises") -> str:
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "width:100%;margin-bottom:2em}td,th{border:1px solid #999;padding:4px 8px;"
        "vertical-align:top;text-align:left}.pass{color:#060}.fail{color:#a00}"
        "@media print{h2{page-break-before:always}}</style></head><body>",
        f"<h1>{e(title)}</h1><p>All data is fictitious.</p>",
    ]
    for trainee, mine in by_trainee(grades).items():
        passed = sum(g.passed for g in mine)
        parts.append(f"<h2>Trainee {e(trainee)}</h2><p>{passed} of {len(mine)} passed</p>")
        parts.append(
            "<table><tr><th>exercise</th><th>started</th><th>result</th>"
            "<th>task</th><th>checks</th></tr>"
        )
        for g in mine:
            for i, t in enumerate(g.tasks):
                head = (
                    (
                        f"<td rowspan='{len(g.tasks)}'>{e(g.title)}<br><small>{e(g.exercise)}"
                        f" at {e(g.terminal)}</small></td><td rowspan='{len(g.tasks)}'>"
                        f"{e(g.started)}</td>"
                    )
                    if i == 0
                    else ""
                )
                cls = "pass" if t.passed else "fail"
                checks = "<br>".join(e(c.detail) for c in t.checks)
                parts.append(
                    f"<tr>{head}<td class='{cls}'>{'PASS' if t.passed else 'FAIL'}"
                    f"</td><td>{e(t.text)}</td><td>{checks}</td></tr>"
                )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
