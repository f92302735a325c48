"""The command line: typer apps, one module per command group.

This package is the only place that imports typer and the only place that prints.
Each command module exposes ``register(app)``; ``main.main()`` is the one error
boundary. Command modules import heavy libraries (httpx2, authlib, cryptography,
starlette, textual) inside the command functions, so ``knoxhook --help`` stays fast.
"""
