"""Benchmarks: ingest throughput, /ask latency and throughput, memory and
cold start at the real corpus size and at synthetic scales. Run with
``python -m bench.run``; see docs/performance.md."""
