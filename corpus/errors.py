"""One exception hierarchy for the whole project.

The CLI and the HTTP layer each translate ``DocentError`` once: the CLI prints
``str(error)`` on one line and exits non-zero, the service maps ``status_code``
to the HTTP response. Messages are written for the person who has to fix the
problem, so they name the file, line and field involved.
"""

from __future__ import annotations


class DocentError(Exception):
    """Base class of every error this project reports to a user."""

    status_code = 500


class InvalidInputError(DocentError):
    """A request, argument or input file is malformed."""

    status_code = 400


class RecordError(InvalidInputError):
    """One record in an input file is invalid."""

    def __init__(self, source: str, location: str, field: str, message: str) -> None:
        self.source = source
        self.location = location
        self.field = field
        self.message = message
        super().__init__(f"{source}, {location}, field '{field}': {message}")


class InvalidRecordsError(InvalidInputError):
    """An input file holds invalid records and --skip-invalid was not given."""

    def __init__(self, errors: list[RecordError]) -> None:
        self.errors = errors
        more = f" (and {len(errors) - 1} more invalid records; use --skip-invalid to load the rest)" if len(errors) > 1 else " (use --skip-invalid to load the rest)"
        super().__init__(f"{errors[0]}{more}")


class NotFoundError(DocentError):
    status_code = 404


class IndexStateError(DocentError):
    """The stored index is missing, damaged, or does not match the settings."""

    status_code = 503


class IndexMissingError(IndexStateError):
    pass


class IndexCorruptError(IndexStateError):
    pass


class IndexMismatchError(IndexStateError):
    pass


class ConfigError(DocentError):
    """The settings (config file, environment) are invalid."""
