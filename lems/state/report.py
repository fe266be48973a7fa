"""The printable audit report: one section per agency, what a triennial LEDS audit looks at.

Plain HTML with print CSS (US Letter pages, each agency on a new page, table headers repeated
on every page, rows never split), so a browser's "print to PDF" or any HTML-to-PDF tool gives the
paper an auditor files. No template engine: the page is a handful of tables, escaped here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import tzinfo
from html import escape
from typing import Any

from lems.clock import show as show_time
from lems.state.audit import AgencyFindings

CSS = """
@page { size: letter; margin: 0.6in 0.5in; }
body { font: 10pt/1.3 "DejaVu Sans", Arial, sans-serif; color: #000; }
h1 { font-size: 16pt; margin: 0 0 4pt; }
h2 { font-size: 13pt; margin: 14pt 0 4pt; border-bottom: 1px solid #000; }
h3 { font-size: 11pt; margin: 10pt 0 3pt; }
section.agency { page-break-before: always; break-before: page; }
section.agency:first-of-type { page-break-before: avoid; break-before: avoid; }
table { border-collapse: collapse; width: 100%; margin: 2pt 0 6pt; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
th, td { border: 0.5pt solid #555; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { background: #e6e6e6; }
td.none { color: #555; font-style: italic; }
.flag { font-weight: bold; }
p.meta { margin: 0; }
"""


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], klass: str, none: str) -> str:
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    if not body:
        body = f'<tr><td class="none" colspan="{len(headers)}">{escape(none)}</td></tr>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f'<table class="{klass}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _agency(a: AgencyFindings, zone: tzinfo | None) -> str:
    def show(when: str) -> str:
        return show_time(when, zone)

    s = a.summary
    parts = [
        f'<section class="agency" id="ori-{escape(a.ori)}">',
        f"<h2>{escape(a.ori)} {escape(a.name)}</h2>",
        "<h3>Transactions</h3>",
        _table(
            ("Measure", "Counts"),
            [
                ("Messages by key", " ".join(f"{k}:{n}" for k, n in sorted(s.keys.items()))),
                (
                    "Refused by the switch",
                    " ".join(f"{k}:{n}" for k, n in sorted(s.rejects.items())),
                ),
                (
                    "Rejected by the systems (NCIC, Nlets, state files)",
                    " ".join(f"{k}:{n}" for k, n in sorted(s.answered_rejects.items())),
                ),
                (
                    "CCH disseminations by form",
                    " ".join(f"{k}:{n}" for k, n in sorted(s.cch.items())),
                ),
            ],
            "summary",
            "",
        ),
        "<h3>CCH disseminations</h3>",
        _table(
            (
                "Time",
                "SID",
                "Subject",
                "Purpose",
                "Attention",
                "Form",
                "Terminal",
                "Operator",
                "Challenged",
            ),
            [
                (
                    show(d["time"]),
                    d["sid"],
                    d["name"],
                    d["purpose"],
                    d["attention"],
                    d["form"],
                    d["terminal"],
                    d["operator"],
                    "YES" if d["challenged"] else "",
                )
                for d in a.disseminations
            ],
            "disseminations",
            "No CCH disseminations in the period.",
        ),
        "<h3>Administrative actions</h3>",
        _table(
            ("Time", "Action", "Target", "Detail", "By"),
            [(show(x["time"]), x["action"], x["target"], x["detail"], x["by"]) for x in a.admin],
            "admin",
            "No administrative actions in the period.",
        ),
        "<h3>Failed sign-ons</h3>",
        _table(
            ("Time", "Terminal", "Operator", "Reason"),
            [
                (show(r["time"]), r["terminal"], r["operator"], r["reason"])
                for r in a.failed_signons
            ],
            "signons",
            "No failed sign-ons in the period.",
        ),
        "<h3>Misuse flags</h3>",
        _table(
            ("Time", "Terminal", "Operator", "Key", "Code", "Reason"),
            [
                (
                    show(r["time"]),
                    r["terminal"],
                    r["operator"],
                    r["key"],
                    (r["reason"] or "").split(" ", 1)[0],
                    r["reason"],
                )
                for r in a.misuse
            ],
            "misuse",
            "No misuse flags in the period.",
        ),
    ]
    if a.fics:
        parts += [
            "<h3>Firearms checks (FICS)</h3>",
            _table(
                ("Time", "FTN", "Terminal", "Purchaser", "DOB", "Result", "Reason"),
                [
                    (
                        show(c["time"]),
                        c["ftn"],
                        c["terminal"],
                        c["name"],
                        c["dob"],
                        c["result"],
                        c["reason"],
                    )
                    for c in a.fics
                ],
                "fics",
                "",
            ),
        ]
    parts.append("</section>")
    return "\n".join(parts)


def render(
    lab_name: str,
    period: str,
    generated: str,
    agencies: list[AgencyFindings],
    zone: tzinfo | None = None,
) -> str:
    """The whole report as one HTML document (times shown in ``zone``, the lab's)."""
    body = (
        "\n".join(_agency(a, zone) for a in agencies)
        or "<p>No agency had activity in the period.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>LEDS audit report - {escape(lab_name)}</title>
<style>{CSS}</style></head>
<body>
<header>
<h1>LEDS audit report</h1>
<p class="meta">Lab: {escape(lab_name)}</p>
<p class="meta">Period: <span id="period">{escape(period)}</span></p>
<p class="meta">Generated (lab time): {escape(generated)}</p>
<p class="meta">OAR 257-010-0020(13)-(14): terminal transaction records; all data fictitious.</p>
</header>
{body}
</body></html>
"""
