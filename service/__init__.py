"""The Litestar service, the answering engine and the ``docent`` CLI."""
