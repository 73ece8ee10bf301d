"""The house rules of issue 11, checked on the source: views and APIs read through selectors (no
ORM call in a view or API module), and no module outside tests, migrations and the demo data grows
past 600 lines. Each check is also run on a snippet that breaks it, so it cannot pass vacuously."""

import ast
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parent.parent
APPS = (
    "accounts",
    "core",
    "policies",
    "households",
    "loans",
    "subsidies",
    "riskfund",
    "archives",
    "config",
    "bench",
    "scripts",
)
MAX_LINES = 600

# Query-building calls and lookups that belong in a selector (or a service), never in a page or
# API module. `.filter`/`.exclude` are included: nothing else in those modules has such a method.
ORM_ATTRIBUTES = {
    "objects",
    "select_related",
    "prefetch_related",
    "select_for_update",
    "annotate",
    "aggregate",
    "filter",
    "exclude",
    "values_list",
    "only",
    "defer",
    "in_bulk",
}
ORM_NAMES = {"get_object_or_404", "get_list_or_404", "Subquery", "OuterRef", "Prefetch"}


def project_modules():
    for app in APPS:
        for path in sorted((BASE / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def is_view_or_api(path: Path) -> bool:
    parts = path.relative_to(BASE).parts
    return any(p in ("views", "apis") for p in parts[1:-1]) or path.stem.startswith(("views", "apis"))


def orm_calls(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ORM_ATTRIBUTES:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in ORM_NAMES:
            found.append(f"line {node.lineno}: {node.id}")
    return found


def test_the_orm_check_catches_a_query_in_a_view():
    snippet = (
        "from django.shortcuts import get_object_or_404\n"
        "def page(request, pk):\n"
        "    loan = get_object_or_404(Loan, pk=pk)\n"
        "    rows = Loan.objects.filter(household=loan.household).select_related('branch')\n"
    )
    assert sorted(orm_calls(snippet)) == [
        "line 3: get_object_or_404",
        "line 4: .filter",
        "line 4: .objects",
        "line 4: .select_related",
    ]


def test_views_and_apis_read_through_selectors():
    offenders = {}
    for path in project_modules():
        if is_view_or_api(path):
            calls = orm_calls(path.read_text(encoding="utf-8"))
            if calls:
                offenders[str(path.relative_to(BASE))] = calls
    assert offenders == {}


@pytest.mark.parametrize(
    "relative, expected",
    [
        ("loans/views/applications.py", True),
        ("loans/apis/servicing.py", True),
        ("households/views_excel.py", True),
        ("subsidies/apis.py", True),
        ("loans/selectors.py", False),
        ("loans/services/servicing.py", False),
    ],
)
def test_which_modules_are_pages_or_apis(relative, expected):
    assert is_view_or_api(BASE / relative) is expected


def test_no_module_is_over_600_lines():
    long = {
        str(path.relative_to(BASE)): n
        for path in project_modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def audited_actions(source: str) -> list[str]:
    """The literal `action="…"` of every audit(...) call in a module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "audit":
            for keyword in node.keywords:
                if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                    found.append(keyword.value.value)
    return found


def test_the_action_check_finds_literal_actions():
    assert audited_actions('audit(actor=u, action="x.made", obj=o)\nprint(action="no")') == ["x.made"]


def test_every_audited_action_has_a_label_for_the_audit_viewer():
    """The audit viewer shows an action by its label; a missing one shows the code to the user."""
    from core.audit import ACTION_LABELS
    from riskfund.models import LedgerTransaction
    from riskfund.workflow import STEP_LABELS as CLAIM_STEPS

    actions = {a for path in project_modules() for a in audited_actions(path.read_text(encoding="utf-8"))}
    # The families built with f-strings in the fund's services.
    actions |= {f"riskfund.{kind}" for kind in LedgerTransaction.Kind.values}
    actions |= {f"compensation_claim.{name}" for name in CLAIM_STEPS}
    assert actions and sorted(actions - set(ACTION_LABELS)) == []


def raw_date_inputs(source: str) -> list[int]:
    """Lines that build Django's DateInput directly (`forms.DateInput(...)`): in zh-hans its value
    is 2026/12/06, which a browser's date input cannot show, so the field opens empty (issue 14)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "DateInput"
        and getattr(node.func.value, "id", "") == "forms"
    ]


def test_the_date_input_check_finds_a_raw_one():
    assert raw_date_inputs('W = forms.DateInput(attrs={"type": "date"})\nX = DateInput()') == [1]


def test_every_date_input_is_the_iso_one():
    found = {
        str(path.relative_to(BASE)): lines
        for path in project_modules()
        if path.relative_to(BASE).as_posix() != "core/forms.py"
        and (lines := raw_date_inputs(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_a_date_input_shows_its_date_in_chinese_too():
    import datetime

    from django import forms
    from django.utils import translation

    from core.forms import DateInput

    class Form(forms.Form):
        on = forms.DateField(widget=DateInput())

    with translation.override("zh-hans"):
        html = str(Form(initial={"on": datetime.date(2026, 12, 6)})["on"])
    assert 'type="date"' in html and 'value="2026-12-06"' in html
