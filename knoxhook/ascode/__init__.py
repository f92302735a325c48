"""Subscriptions as code (issue 11): ``knoxhook plan`` / ``apply`` / ``import``.

- ``desired``: the desired-state file (``knoxhook.yaml``), checked before any request;
- ``state``: the state file linking its local names to subscription ids;
- ``planner``: match, diff and order the steps (no event ever in two subscriptions);
- ``document``: the stable JSON plan document (``plan --json``, ``--out PLAN.json``);
- ``apply``: run the steps, recording each, and refuse a stale saved plan.

No typer, no rich: ``knoxhook/cli/plan.py`` prints.
"""
