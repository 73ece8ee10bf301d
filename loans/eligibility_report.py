"""The answer of the eligibility rules (eligibility.py): one result per rule, passed or not, with
its message and the policy text it comes from, and the one ApplicationError("rule_failed") a
report with failures becomes, naming every failed rule at once."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from core.exceptions import ApplicationError


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    message: str
    source: str
    # The form field the message belongs next to on a page.
    field: str | None = None


@dataclass(frozen=True)
class EligibilityReport:
    results: list[RuleResult]

    @property
    def eligible(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed]


def raise_for(report: EligibilityReport, stage: str) -> EligibilityReport:
    """The report itself when every rule passed; otherwise one ApplicationError naming every failed
    rule, placed on the first failure's field."""
    failures = report.failures
    if not failures:
        return report
    if len(failures) == 1:
        message = failures[0].message
    else:
        message = _("%(count)d eligibility rules are not met: %(messages)s") % {
            "count": len(failures),
            "messages": " ".join(f.message for f in failures),
        }
    raise ApplicationError(
        message,
        "rule_failed",
        {
            "rules": [{"rule": f.rule, "message": f.message, "source": f.source} for f in failures],
            "stage": stage,
        },
        field=failures[0].field,
    )
