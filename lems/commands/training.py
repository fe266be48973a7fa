"""``lems exercise run|report|list`` and ``lems watch``: the training lab's instructor side."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from formats.errors import ConfigError
from lems.cli import console, errors

if TYPE_CHECKING:
    from lems.reactor import ISwitchReactor


def register(sub: Any) -> None:
    ex = sub.add_parser("exercise", help="run graded training exercises and report the grades")
    exsub = ex.add_subparsers(title="exercise commands", metavar="COMMAND")
    s = exsub.add_parser("list", help="the exercises shipped with LEMS")
    s.set_defaults(func=cmd_list)
    s = exsub.add_parser(
        "run",
        help="set up an exercise, let the trainee work, grade it from the journal",
        description="Runs the lab's switch in this process at the exercise's clock speed "
        "(or uses a running one with --switch), runs the setup, then waits for the trainee "
        "(at `lems terminal`; press Enter here when done) or runs --script as the trainee, "
        "and grades the journal. Exit status 0 when every task passed.",
    )
    s.add_argument("file", help="exercise TOML file, or a shipped exercise id")
    s.add_argument("--lab", type=Path, required=True)
    s.add_argument("--terminal", help="the trainee's terminal (default: the exercise's)")
    s.add_argument(
        "--trainee", default="", help="trainee name for the report (default: the operator)"
    )
    s.add_argument("--script", type=Path, help="a scripted trainee")
    s.add_argument("--switch", metavar="ENDPOINT", help="use this running switch of the lab")
    s.set_defaults(func=cmd_run)
    s = exsub.add_parser("report", help="graded report per trainee (table, --json, --html)")
    s.add_argument("--lab", type=Path, required=True)
    s.add_argument("--trainee", default="")
    s.add_argument("--json", action="store_true", help="JSON instead of a table")
    s.add_argument("--html", type=Path, metavar="FILE", help="also write a printable HTML page")
    s.set_defaults(func=cmd_report)

    c = sub.add_parser(
        "class",
        help="run an exercise for a class (a roster of trainees at "
        "their own terminals) and report the class",
    )
    csub = c.add_subparsers(title="class commands", metavar="COMMAND")
    s = csub.add_parser("start", help="every trainee of the roster does the exercise at once")
    s.add_argument("file", help="exercise TOML file, or a shipped exercise id")
    s.add_argument("--lab", type=Path, required=True)
    s.add_argument("--roster", type=Path, required=True, help="CSV with a header: trainee,terminal")
    s.add_argument(
        "--id", dest="klass", default="", help="class id (default: the exercise and the lab time)"
    )
    s.add_argument("--switch", metavar="ENDPOINT", help="use this running switch of the lab")
    s.set_defaults(func=cmd_class_start)
    s = csub.add_parser(
        "report",
        help="per trainee: exercises, attempts, rejects drawn, "
        "time to each task (table, --csv, --html)",
    )
    s.add_argument("--lab", type=Path, required=True)
    s.add_argument(
        "--id", dest="klass", default="", help="only this class (default: all grades of the lab)"
    )
    s.add_argument("--csv", type=Path, metavar="FILE")
    s.add_argument("--html", type=Path, metavar="FILE")
    s.set_defaults(func=cmd_class_report)

    s = sub.add_parser("watch", help="the instructor's live dashboard of a running lab")
    s.add_argument("dir", type=Path, help="lab directory")
    s.add_argument("--interval", type=float, default=1.0)
    s.add_argument("--count", type=int, default=0, help="refreshes, then stop (0: Ctrl-C)")
    s.set_defaults(func=cmd_watch)


def cmd_list(args: argparse.Namespace) -> int:
    from lems.training.exercise import shipped

    for e in shipped():
        console.print(f"{e.id:<24} {e.title}  [trainee {e.trainee}]", markup=False)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from lems.commands.terminal import run_on_reactor
    from lems.lab import load_lab
    from lems.training.exercise import load_exercise
    from lems.training.report import print_report
    from lems.training.run import run_exercise
    from terminals.script import load_script

    lab = load_lab(args.lab)
    exercise = load_exercise(args.file)
    script = load_script(args.script) if args.script else None
    lab.clock_speed = exercise.clock_speed
    from lems.training.grading import last_seq
    from lems.training.run import case_number

    terminal = (args.terminal or exercise.trainee).upper()
    case = case_number(lab, last_seq(lab.database) if lab.database.exists() else 0, terminal)
    exercise = exercise.with_vars({"CASE": case})
    console.print(f"EXERCISE {exercise.id}: {exercise.title}", markup=False)
    console.print(exercise.text, markup=False)
    for t in exercise.tasks:
        console.print(f"  TASK {t.id}: {t.text}", markup=False)

    async def main(reactor: ISwitchReactor) -> int:
        switch = None
        endpoint = args.switch
        if endpoint is None:
            scripted = [s.terminal for s in exercise.setup] + ([terminal] if script else [])
            switch, endpoint = await _own_switch(lab, reactor, scripted)
        try:

            async def until() -> None:
                await _until_enter(
                    f"Trainee: sign on at {args.terminal or exercise.trainee} "
                    f"(lems terminal {endpoint} --lab {args.lab} --terminal "
                    f"{args.terminal or exercise.trainee}); press Enter here when "
                    f"done (time limit {exercise.time_limit:g} lab s).",
                    exercise.time_limit / lab.clock_speed,
                )

            async def settle() -> None:
                await _settle(switch)

            grade = await run_exercise(
                reactor,
                endpoint,
                lab,
                exercise,
                trainee=args.trainee,
                terminal=args.terminal or "",
                script=script,
                until=until,
                settle=settle,
                case=case,
            )
        finally:
            if switch is not None:
                await switch.stop().asFuture(asyncio.get_running_loop())
        print_report([grade], console)
        return 0 if grade.passed else 1

    return run_on_reactor(main)


def cmd_report(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.training.report import print_report, report_html, report_json
    from lems.training.run import load_grades

    lab = load_lab(args.lab)
    grades = load_grades(lab, args.trainee)
    if args.json:
        console.print_json(report_json(grades)) if console.is_terminal else print(
            report_json(grades)
        )
    else:
        print_report(grades, console)
    if args.html:
        args.html.write_text(report_html(grades), "utf-8")
        errors.print(f"HTML report written: {args.html}", markup=False)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.training.watch import watch

    lab = load_lab(args.dir)
    if not lab.database.exists():
        raise ConfigError(f"{lab.database} does not exist: lems init / serve the lab first")
    watch(lab.database, lab.name, console, interval=args.interval, count=args.count)
    return 0


def cmd_class_start(args: argparse.Namespace) -> int:
    from lems.commands.terminal import run_on_reactor
    from lems.lab import load_lab
    from lems.training.classroom import case_numbers, read_roster, run_class
    from lems.training.exercise import load_exercise
    from lems.training.report import print_report

    lab = load_lab(args.lab)
    exercise = load_exercise(args.file)
    seats = read_roster(args.roster, lab)
    lab.clock_speed = exercise.clock_speed
    klass = args.klass or f"{exercise.id}-{len(seats)}"
    cases = case_numbers(lab, seats)
    console.print(f"CLASS {klass}: EXERCISE {exercise.id}: {exercise.title}", markup=False)
    console.print(exercise.text, markup=False)
    for t in exercise.tasks:
        console.print(f"  TASK {t.id}: {t.text}", markup=False)
    for seat in seats:
        console.print(
            f"  {seat.trainee} at {seat.terminal}: your case number (${{CASE}}) is "
            f"{cases[seat.terminal]}",
            markup=False,
        )

    async def main(reactor: ISwitchReactor) -> int:
        switch = None
        endpoint = args.switch
        if endpoint is None:
            switch, endpoint = await _own_switch(lab, reactor, [s.terminal for s in exercise.setup])
        try:

            async def until() -> None:
                await _until_enter(
                    f"Trainees: sign on at your terminals (lems terminal {endpoint} "
                    f"--lab {args.lab} --terminal T..). Press Enter here to end the "
                    f"exercise (time limit {exercise.time_limit:g} lab s).",
                    exercise.time_limit / lab.clock_speed,
                )

            async def settle() -> None:
                await _settle(switch)

            grades = await run_class(
                reactor,
                endpoint,
                lab,
                exercise,
                seats,
                klass,
                until=until,
                settle=settle,
                cases=cases,
            )
        finally:
            if switch is not None:
                await switch.stop().asFuture(asyncio.get_running_loop())
        print_report(grades, console)
        return 0 if all(g.passed for g in grades) else 1

    return run_on_reactor(main)


def cmd_class_report(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.training.classroom import report_csv, report_html
    from lems.training.run import load_grades

    lab = load_lab(args.lab)
    grades = load_grades(lab, klass=args.klass)
    text = report_csv(grades)
    if args.csv:
        args.csv.write_text(text, "utf-8")
    if args.html:
        args.html.write_text(report_html(grades, f"Class report {args.klass or lab.name}"), "utf-8")
    if not args.csv and not args.html:
        print(text, end="")
    return 0


async def _until_enter(prompt: str, seconds: float) -> None:
    """Show ``prompt``, then wait for Enter on the console or ``seconds``, whichever is first:
    how an instructor ends an exercise or a class."""
    console.print(prompt, markup=False)
    read = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
    await asyncio.wait([read], timeout=seconds)


async def _settle(switch: Any) -> None:
    """Wait until everything the exercise's own switch (if it started one) queued is committed,
    so grading reads the whole journal."""
    if switch is not None:
        from lems.store import when_committed

        await when_committed(switch.writer, []).asFuture(asyncio.get_running_loop())


async def _own_switch(lab: Any, reactor: ISwitchReactor, scripted: list[str]) -> tuple[Any, str]:
    """Start the lab's switch in this process for an exercise or a class (no ``--switch``):
    the scripted terminals get passwords for this run (``session_passwords``); returns the
    switch and the endpoint its terminals connect to."""
    from hardware.endpoints import client_for
    from lems.switch import Switch
    from lems.training.run import session_passwords

    session_passwords(lab, scripted)
    switch = Switch(lab, reactor)
    switch.start()
    for desc in lab.switch.listen:
        await switch.listen(desc).asFuture(asyncio.get_running_loop())
    return switch, client_for(lab.switch.listen[0])
