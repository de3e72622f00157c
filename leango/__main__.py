"""`python -m leango` is the `leango` command."""

from .builder.cli import main

main(prog_name="leango")
