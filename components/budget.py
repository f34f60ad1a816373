"""CostBudget: an Azure Consumption Budget on the stack's resource group, alerting by e-mail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import consumption

ALERT_PERCENTAGES = (50, 80, 100)


@dataclass(frozen=True)
class CostBudgetArgs:
    """How much a month, who hears about it, and from when."""

    scope: pulumi.Input[str]
    """ARM ID of the resource group the budget watches."""
    budget_name: str
    amount_usd: int
    contact_emails: Sequence[str]
    start_date: str
    """First day of the first month, ISO date (Azure requires the first of a month)."""


class CostBudget(pulumi.ComponentResource):
    """Actual-cost alerts at 50, 80 and 100 % of the monthly amount."""

    def __init__(self, name: str, args: CostBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kaito-aks:budget:CostBudget", name, {}, opts)
        budget = consumption.Budget(
            f"{name}-budget",
            scope=args.scope,
            budget_name=args.budget_name,
            amount=args.amount_usd,
            category="Cost",
            time_grain="Monthly",
            time_period=consumption.BudgetTimePeriodArgs(start_date=f"{args.start_date}T00:00:00Z"),
            notifications={
                f"actual-greater-than-{percent}-percent": consumption.NotificationArgs(
                    enabled=True,
                    operator="GreaterThanOrEqualTo",
                    threshold=percent,
                    threshold_type="Actual",
                    contact_emails=list(args.contact_emails),
                    locale="en-us",
                )
                for percent in ALERT_PERCENTAGES
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # Azure only accepts a start date in the current month at creation; once created,
                # the date stays, so a later preview does not show a month-old date as a change.
                ignore_changes=["timePeriod"],
            ),
        )
        self.budget_name = budget.name
        self.register_outputs({"budgetName": self.budget_name})
