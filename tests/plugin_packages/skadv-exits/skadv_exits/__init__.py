"""A hostile test plugin: it ends the interpreter as soon as it is imported."""

raise SystemExit(3)
