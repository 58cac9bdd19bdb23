"""``ngc-pilot evaluation``: import the pilots' evaluation responses and sum them up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ngc_pilot.cli.context import AppContext, emit_json
from ngc_pilot.cli.options import JsonFlag
from ngc_pilot.errors import InputError
from policies.evaluation import Questionnaire, load_questionnaire, response_json_schema
from policies.problems import InputProblems

app = typer.Typer(
    help="Evaluation responses: import, list (per area and question), show, schema.",
    no_args_is_help=True,
)

Files = Annotated[list[Path], typer.Argument(help="YAML or CSV files.", dir_okay=False)]
QuestionnaireFile = Annotated[
    Path | None,
    typer.Option(
        "--questionnaire",
        help="Questionnaire YAML (default: the shipped policies/evaluation.yaml).",
        dir_okay=False,
    ),
]


def _questionnaire(path: Path | None) -> Questionnaire:
    try:
        return load_questionnaire(path)
    except InputProblems as exc:
        raise InputError(exc.problems) from exc


@app.command("import")
def import_(
    ctx: typer.Context,
    files: Files,
    questionnaire: QuestionnaireFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate FILES and store their responses; any problem refuses all (exit code 2)."""
    obj: AppContext = ctx.obj
    q = _questionnaire(questionnaire)
    report = obj.services.import_responses(files, q)
    if as_json:
        emit_json(report.as_dict())
        return
    obj.out.print(
        f"imported {len(report.created)} new, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged response(s) (questionnaire version {q.version})"
    )


def _mean(value: Any) -> str:
    return "-" if value is None else str(value)


@app.command("list")
def list_(
    ctx: typer.Context,
    pilot: Annotated[str | None, typer.Option("--pilot", help="Only this pilot.")] = None,
    questionnaire: QuestionnaireFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Per area and question: responses received, distribution 1..5, mean."""
    obj: AppContext = ctx.obj
    q = _questionnaire(questionnaire)
    data = obj.services.evaluation_summary(q, pilot)
    if as_json:
        emit_json(data)
        return
    title = f"Evaluation, questionnaire version {data['questionnaire']}" + (
        f", pilot {pilot}" if pilot else ""
    )
    table = Table("area", "question", "responses", "1", "2", "3", "4", "5", "mean", title=title)
    for area in data["areas"]:
        for question in area["questions"]:
            dist = question.get("distribution")
            table.add_row(
                f"{area['id']} ({area['responses']})",
                question["id"],
                str(question["responses"]),
                *([str(dist[str(n)]) for n in range(1, 6)] if dist else [""] * 5),
                _mean(question.get("mean")) if dist else "(text)",
            )
    obj.out.print(table)
    obj.out.print(f"{data['responses']} response(s)")


@app.command()
def show(
    ctx: typer.Context,
    pilot: Annotated[str, typer.Argument(metavar="PILOT")],
    questionnaire: QuestionnaireFile = None,
    as_json: JsonFlag = False,
) -> None:
    """One pilot's answers per respondent and its free-text comments per area."""
    obj: AppContext = ctx.obj
    q = _questionnaire(questionnaire)
    data = obj.services.evaluation_answers(q, pilot)
    if as_json:
        emit_json(data)
        return
    out = obj.out
    out.print(f"[bold]{pilot}[/bold]: {len(data['respondents'])} respondent(s)")
    for respondent in data["respondents"]:
        answers = respondent["answers"]
        scores = ", ".join(f"{k}={v}" for k, v in answers.items() if isinstance(v, int))
        out.print(
            f"  {respondent['respondent']} (revision {respondent['revision']}): {scores}",
            markup=False,
        )
    for area in q.areas:
        for comment in data["comments"][area.id]:
            out.print(
                f"  [{area.title.en}] {comment['respondent']}, {comment['question']}: "
                f"{comment['text']}",
                markup=False,
            )


@app.command()
def schema(questionnaire: QuestionnaireFile = None) -> None:
    """Print the JSON Schema of a response file (questions from the questionnaire)."""
    emit_json(response_json_schema(_questionnaire(questionnaire)))
