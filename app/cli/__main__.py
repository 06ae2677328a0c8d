"""`python -m app.cli`: the same as the `rft` command."""

from app.cli.main import main

main()
