"""``python -m placefund``: the same command line as the ``placefund`` script."""

from placefund.cli import main

main(prog_name="placefund")
