"""Sentence encoders, the FAISS vector index and the on-disk collection."""
