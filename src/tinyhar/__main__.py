"""``python -m tinyhar`` runs the command-line interface."""

from tinyhar.cli import main

main()
