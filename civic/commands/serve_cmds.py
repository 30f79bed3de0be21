"""Commands of this group; see civic/cli.py for how they are registered."""

import click

COMMANDS: list[click.Command] = []
