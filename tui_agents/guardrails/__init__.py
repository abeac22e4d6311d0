"""Prompt-injection guardrail: cheap heuristics, then a judge model's JSON verdict, then a policy.

    judge = InjectionJudge(get_provider("openai", model="gpt-4o-mini"))
    verdict = await judge.judge(user_text)
    action = apply_policy(verdict, "warn")   # "blocked" | "warned" | "flagged" | None
"""

from __future__ import annotations

from .heuristics import HeuristicResult, scan
from .judge import JUDGE_SYSTEM_PROMPT, InjectionJudge, Verdict, parse_verdict
from .policy import POLICIES, Action, Policy, apply_policy

__all__ = [
    "Action",
    "HeuristicResult",
    "InjectionJudge",
    "JUDGE_SYSTEM_PROMPT",
    "POLICIES",
    "Policy",
    "Verdict",
    "apply_policy",
    "parse_verdict",
    "scan",
]
