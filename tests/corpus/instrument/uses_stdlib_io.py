"""A command that needs the standard library's io while a command file is called io.py."""

import io


def format_report(title: str = "report"):
    """Format a report title through the standard library's StringIO."""
    buffer = io.StringIO()
    buffer.write(title.upper())
    print(buffer.getvalue())
