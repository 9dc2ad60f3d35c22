"""Evaluation: retrieval suites and caveat labels, measured and reported."""
