"""The command line: typer apps, one module per command group.

This package is the only place that imports typer and the only place that prints.
Every command is a row of ``registry.COMMANDS`` (how to add one: the docstring of
``registry``); ``main.main()`` is the one error boundary. Command modules import heavy
libraries (httpx2, authlib, cryptography, starlette, textual) inside the command
functions, so ``knoxhook --help`` stays fast.
"""
