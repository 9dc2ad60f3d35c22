"""Archival records: the record model, date parsing, loaders and provenance caveats."""
