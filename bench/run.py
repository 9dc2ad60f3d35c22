"""`python -m bench.run`: the performance benchmarks (docs/performance.md).

Prints medians and percentiles and writes a JSON report. Every comparison
(ingest vs the bare encoder, /ask vs encoding the question, batching vs not)
is measured interleaved in the same run, because timings on a shared 2-core
machine drift by tens of percent from one minute to the next.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from bench import http, measure
from bench.summary import markdown
from bench.synthetic import build, parse_scale, real_records, synthetic
from embeddings.batching import BatchingEncoder, serving_encoder, serving_threads
from embeddings.collection import Collection
from embeddings.encoder import DEFAULT_MODEL, load_encoder
from embeddings.ingest import ingest, remove
from service.engine import Docent
from service.schemas import AskRequest
from service.settings import Settings, default_cache_dir

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("DOCENT_SHARED", ROOT.parent / "shared"))
# Generous limits for --check (the targets are reported beside them).
CHECK = {"ingest_ratio": 0.8, "p50_over_encode": 3.0, "p99_over_encode": 6.0, "speedup_16": 2.0, "single_client_growth": 1.25, "open_index_s": 10.0, "recall": 0.95}
TARGET = {"ingest_ratio": 0.9, "p50_over_encode": 1.5, "p99_over_encode": 3.0, "speedup_16": 3.0, "single_client_growth": 1.10, "open_index_s": 5.0, "recall": 0.95}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    versions = {p: metadata.version(p) for p in ("torch", "faiss-cpu", "sentence-transformers", "numpy", "litestar")}
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory / 2**20, 1), "kernel": platform.release(),
            "python": platform.python_version(), "versions": versions, "load_average_at_start": os.getloadavg()}


def real_collection(work: Path, records, encoder) -> Path:
    """The real corpus, embedded by the real model (once; reused while unchanged)."""
    data_dir = work / "real" / "data"
    report = ingest(data_dir, records, encoder, replace=True, progress=sys.stderr.isatty())
    log(f"real collection: {report.summary()}")
    return data_dir


def disk_bytes(collection: Collection) -> int:
    return sum(p.stat().st_size for p in collection.path.iterdir() if p.is_file())


def run_scale(data_dir: Path, plain, questions: list[str], query_vectors: np.ndarray, args) -> dict:
    collection = Collection.open(data_dir)
    out: dict = {"records": collection.count, "index_type": collection.manifest["index_type"],
                 "disk_bytes_per_record": round(disk_bytes(collection) / max(1, collection.count))}
    if out["index_type"] != "flat":
        out["recall"] = measure.recall(collection, query_vectors)
        log(f"  recall of the {out['index_type']} index against exact search: {out['recall']}")
    collection.close()
    colds = [http.cold_start(data_dir) for _ in range(args.cold_repeats)]
    out["cold_start"] = {k: round(statistics.median(c[k] for c in colds), 3) for k in colds[0]}
    log(f"  cold start (fresh process, median of {len(colds)}): {out['cold_start']}")

    settings = Settings.load(env={}, data_dir=data_dir, sample_when_empty=False)
    batching = BatchingEncoder(plain, max_batch=settings.encode_batch_max, max_wait=settings.encode_batch_wait_ms / 1000)
    serial = BatchingEncoder(plain, max_batch=1)
    # What `docent serve` runs: batching in front of the model in a child process.
    served = serving_encoder(DEFAULT_MODEL, threads=args.threads, max_batch=settings.encode_batch_max, max_wait=settings.encode_batch_wait_ms / 1000)
    docents = {name: Docent.open(settings, encoder) for name, encoder in (("plain", plain), ("serial", serial), ("batching", batching), ("service", served))}
    try:
        # The latency targets are read on `service` and `plain` each measured
        # alone beside the reference encode: side by side, the in-process
        # variants run their own copy of the model between two of the
        # service's questions, which evicts the encoder process's weights from
        # the cache (+2.4 ms a question at 100k), a neighbour no deployment has.
        # The side-by-side pass stays for comparing the variants at the same moments.
        out["ask_alone"] = {name: measure.ask_latency({name: docents[name]}, plain, questions, args.repeats) for name in ("service", "plain")}
        log("  /ask alone, one client (ms): " + json.dumps({n: {k: v["total"] if "total" in v else v for k, v in r.items()} for n, r in out["ask_alone"].items()}))
        latency_variants = {name: docents[name] for name in ("plain", "batching", "service")}
        out["ask"] = measure.ask_latency(latency_variants, plain, questions, args.repeats)
        log("  /ask in process, variants side by side, one client (ms): " + json.dumps({k: v["total"] if "total" in v else v for k, v in out["ask"].items()}))
        calls = {name: (lambda d: lambda q: d.ask(AskRequest(question=q)))(docents[name]) for name in ("serial", "batching", "service")}
        out["throughput"] = measure.throughput_table(calls, args.clients, args.duration, questions, args.throughput_repeats)
        out["batch_sizes"] = {str(k): v for k, v in sorted(served.batch_sizes.items())}
        log("  answers/s in process: " + json.dumps({n: {c: r["answers_per_s"] for c, r in t.items()} for n, t in out["throughput"].items()}))
    finally:
        for d in docents.values():
            d.close()
        served.close()
    if args.http:
        out["http"] = run_http(data_dir, questions, args)
    return out


def run_http(data_dir: Path, questions: list[str], args) -> dict:
    env = {"DOCENT_ENCODER_THREADS": str(args.threads)} if args.threads else {}
    # A start-up is one sample of a noisy figure: the median of several.
    readies = []
    for _ in range(max(0, args.cold_repeats - 1)):
        with http.server(data_dir, env) as (_, _, ready):
            readies.append(ready)
    with http.server(data_dir, env) as (port, pid, ready):
        readies.append(ready)
        result = {"ready_s": round(statistics.median(readies), 2), "ready_runs": [round(r, 2) for r in readies],
                  "latency": http.latency(port, questions, args.repeats)}
        result["throughput"] = {str(c): http.throughput(port, c, args.duration, questions) for c in args.clients}
        result["rss_mib"] = http.rss(pid)
    log(f"  HTTP: ready in {result['ready_s']} s; one client {result['latency']}; answers/s "
        + json.dumps({c: r["answers_per_s"] for c, r in result["throughput"].items()}) + f"; RSS {result['rss_mib']}")
    return result


def run_incremental(work: Path, base: Path, real_dir: Path, encoder, count: int) -> dict:
    """Add ``count`` new records to a copy of a large collection, update a
    tenth of them, remove them again; what was embedded and what was written."""
    scratch = work / "incremental" / "data"
    shutil.rmtree(scratch.parent, ignore_errors=True)
    shutil.copytree(base, scratch)
    real = Collection.open(real_dir)
    items = list(real.store.items())
    vectors = np.asarray(real.vectors()[np.asarray([pos for pos, _, _ in items])])
    real.close()
    new = [record for record, _ in synthetic([r for _, _, r in items], vectors, count, first=9_000_000)]
    timed = measure.TimedEncoder(encoder)
    counted = {"texts": 0, "seconds": 0.0}

    class Counting:
        name, dimension = encoder.name, encoder.dimension

        def encode(self, texts, **kwargs):
            out = timed.encode(texts, **kwargs)
            counted["texts"] += len(texts)
            counted["seconds"] += timed.last.seconds
            return out

    result = {"base_records": Collection.open(scratch, verify=False).count}
    steps = {
        "add": lambda: ingest(scratch, new, Counting()),
        "update": lambda: ingest(scratch, [type(r)(**{**{f: getattr(r, f) for f in r.__struct_fields__}, "summary": r.summary + " Revised."}) for r in new[: count // 10]], Counting()),
        "remove": lambda: remove(scratch, [r.id for r in new]),
    }
    for name, step in steps.items():
        before = _inodes(scratch)
        counted.update(texts=0, seconds=0.0)
        report = step()
        after = _inodes(scratch)
        shared = sorted(n for n, ino in after.items() if before.get(n) == ino)
        result[name] = {"seconds": round(report.seconds, 2), "embedded": counted["texts"], "encode_s": round(counted["seconds"], 2),
                        "other_s": round(report.seconds - counted["seconds"], 2), "mode": report.mode, "summary": report.summary(),
                        "files_shared_with_previous_generation": shared}
        log(f"  incremental {name}: {result[name]}")
    shutil.rmtree(scratch.parent, ignore_errors=True)
    return result


def _inodes(data_dir: Path) -> dict[str, int]:
    generation = Collection.open(data_dir, verify=False)
    inodes = {p.name: p.stat().st_ino for p in generation.path.iterdir()}
    generation.close()
    return inodes


def over_encode(scale: dict, variant: str, percentile: str) -> float:
    """A variant's latency percentile over the reference encode's p50, from
    its pass alone (from the side-by-side pass in reports made before it)."""
    passes = scale.get("ask_alone", {})
    measured = passes[variant] if variant in passes else scale["ask"]
    return measured[variant]["total"][percentile] / measured["question_encode"]["p50"]


def targets(report: dict, limits: dict) -> list[dict]:
    """Each target with the measured figure and whether it holds."""
    rows = []
    if "ingest" in report:
        ratio = report["ingest"]["ratio"]
        rows.append({"what": "ingest / raw encoder throughput", "value": ratio, "limit": limits["ingest_ratio"], "ok": ratio >= limits["ingest_ratio"]})
    for label, scale in report["scales"].items():
        p50, p99 = over_encode(scale, "service", "p50"), over_encode(scale, "service", "p99")
        growth = over_encode(scale, "service", "p50") / over_encode(scale, "plain", "p50")
        one, sixteen = scale["throughput"]["service"]["1"]["answers_per_s"], scale["throughput"]["service"].get("16", {}).get("answers_per_s", 0)
        if label != "real":
            rows.append({"what": f"{label}: /ask p50 / question encode", "value": round(p50, 2), "limit": limits["p50_over_encode"], "ok": p50 <= limits["p50_over_encode"]})
            rows.append({"what": f"{label}: /ask p99 / question encode", "value": round(p99, 2), "limit": limits["p99_over_encode"], "ok": p99 <= limits["p99_over_encode"]})
        rows.append({"what": f"{label}: throughput 16 clients / 1 client, in process", "value": round(sixteen / one, 2), "limit": limits["speedup_16"], "ok": sixteen / one >= limits["speedup_16"]})
        if "http" in scale:
            served = scale["http"]["throughput"]
            ratio = served.get("16", {}).get("answers_per_s", 0) / served["1"]["answers_per_s"]
            rows.append({"what": f"{label}: throughput 16 clients / 1 client, HTTP", "value": round(ratio, 2), "limit": limits["speedup_16"], "ok": ratio >= limits["speedup_16"]})
        rows.append({"what": f"{label}: single-client p50 service / plain", "value": round(growth, 3), "limit": limits["single_client_growth"], "ok": growth <= limits["single_client_growth"]})
        if "recall" in scale:
            r = min(scale["recall"].values())
            rows.append({"what": f"{label}: {scale['index_type']} recall@10", "value": r, "limit": limits["recall"], "ok": r >= limits["recall"]})
        if scale["records"] >= 1_000_000:
            s = scale["cold_start"]["open_index_s"]
            rows.append({"what": f"{label}: cold start, open index (s)", "value": s, "limit": limits["open_index_s"], "ok": s <= limits["open_index_s"]})
            if "http" in scale:
                s = scale["http"]["ready_s"]
                rows.append({"what": f"{label}: cold start, `docent serve` until /health (s)", "value": s, "limit": limits["open_index_s"], "ok": s <= limits["open_index_s"]})
    return rows


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--scale", action="append", help="real, or a record count such as 100k, 1m (repeatable; default: real, 100k, 1m)")
    p.add_argument("--records", type=Path, default=SHARED / "corpus" / "records.jsonl", help="the real corpus")
    p.add_argument("--queries", type=Path, default=SHARED / "eval" / "dev" / "queries.jsonl", help="real questions (BEIR queries.jsonl)")
    p.add_argument("--work", type=Path, default=default_cache_dir() / "bench", help="where collections are built and cached")
    p.add_argument("--repeats", type=int, default=3, help="passes over the questions for latency")
    p.add_argument("--clients", default="1,4,16,64", help="concurrent clients for throughput")
    p.add_argument("--duration", type=float, default=4.0, help="seconds per throughput measurement")
    p.add_argument("--throughput-repeats", type=int, default=3)
    p.add_argument("--cold-repeats", type=int, default=3)
    p.add_argument("--ingest-records", type=int, default=512, help="records for the ingest throughput comparison (0: skip)")
    p.add_argument("--incremental", type=int, default=1000, help="records added to the 100k collection (0: skip)")
    p.add_argument("--no-http", dest="http", action="store_false", help="in-process measurements only")
    p.add_argument("--threads", type=int, default=0, help="torch threads, here and in the server (0: as `docent serve` chooses)")
    p.add_argument("--report", type=Path, default=ROOT / "test-artifacts" / "bench" / "report.json")
    p.add_argument("--check", action="store_true", help="exit 1 if a figure misses the generous limits in bench.run.CHECK")
    args = p.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",")]
    args.scales = [parse_scale(s) for s in (args.scale or ["real", "100k", "1m"])]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    questions = [json.loads(line)["text"] for line in args.queries.open(encoding="utf-8") if line.strip()]
    records = real_records(args.records)
    plain = load_encoder(DEFAULT_MODEL, threads=serving_threads(args.threads))
    report: dict = {"command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]), "machine": machine(),
                    "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "questions": len(questions), "scales": {}}
    if args.ingest_records:
        log(f"ingest throughput on {args.ingest_records} real records …")
        report["ingest"] = measure.ingest_throughput(records[: args.ingest_records], plain, args.repeats)
        log(f"  {report['ingest']}")
    real_dir = real_collection(args.work, records, plain)
    query_vectors = plain.encode(questions)
    built = {}
    for scale in args.scales:
        label = "real" if scale == "real" else f"{scale:,}"
        data_dir = real_dir if scale == "real" else build(args.work, args.records, real_dir, scale, log=log)
        built[scale] = data_dir
        log(f"scale {label}: {data_dir}")
        report["scales"][label] = run_scale(data_dir, plain, questions, query_vectors, args)
    base = next((d for s, d in built.items() if s != "real" and s >= 100_000), None)
    if args.incremental and base is not None:
        log(f"incremental ingest of {args.incremental} records into a copy of {base} …")
        report["incremental"] = run_incremental(args.work, base, real_dir, plain, args.incremental)
    report["machine"]["load_average_at_end"] = os.getloadavg()
    report["targets"] = targets(report, TARGET)
    report["check"] = targets(report, CHECK)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2))
    args.report.with_suffix(".md").write_text(markdown(report))
    for row in report.get("targets", []):
        print(f"{'ok  ' if row['ok'] else 'MISS'} {row['what']}: {row['value']} (target {row['limit']})")
    print(f"report: {args.report} (and {args.report.with_suffix('.md').name})")
    failed = [row for row in report.get("check", []) if not row["ok"]]
    if args.check and failed:
        print("check failed: " + "; ".join(f"{r['what']} = {r['value']} (limit {r['limit']})" for r in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
