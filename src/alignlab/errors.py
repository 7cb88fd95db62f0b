"""The one exception type that reaches users as a single line (the CLI prints it without a traceback)."""


class AlignlabError(Exception):
    """A problem the user can fix: a bad name, flag, file or setting. The message says what and where."""
