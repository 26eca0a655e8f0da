"""Extra ``synthcheck`` subcommands, one module each, discovered by :mod:`synthcheck.cli`.

A module here defines ``register(subparsers) -> None`` that adds its parser(s) and sets
``func`` to a handler returning an exit code. It must import nothing heavy at module level
(torch, captum, fastapi ...): handlers import what they need, so ``synthcheck predict``
stays fast.
"""
