"""Input / output utilities, a module called io inside a package.

Idiom: InstrumentScripts general/utilities/io.py (a module named like the standard library's).
"""

import io as _stdlib_io  # an absolute import: the standard library, not this file


def alert_on_error(error_msg: str, prompt_user: bool = False):
    """Print an error message for the users; never prompts inside a job."""
    buffer = _stdlib_io.StringIO()
    buffer.write(error_msg)
    print(buffer.getvalue())
