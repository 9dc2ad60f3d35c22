"""`docent eval SUITE …`: the retrieval evaluation from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from pathlib import Path

from corpus.errors import InvalidInputError
from corpus.loaders import load_files
from eval.abstention import two_fold, two_fold_text
from eval.report import check, failures_text, load_thresholds, provenance, table, write_reports
from eval.retrieval import CONFIGS, DEFAULT_CONFIG, DEFAULT_CONFIGS, failures, measure, run_config
from eval.suite import Suite, load_suite

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"


def add_parser(sub, common: argparse.ArgumentParser, run) -> None:
    p = sub.add_parser("eval", parents=[common], help="evaluate retrieval on a BEIR-layout suite (or: eval caveats LABELS)")
    p.add_argument("suite", type=Path, help="suite folder: queries.jsonl, qrels/<split>.tsv, optional corpus.jsonl")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--records", type=Path, help="records to evaluate over (indexed into a cache, reused when unchanged)")
    source.add_argument("--index", type=Path, help="an existing data directory to evaluate")
    p.add_argument("--split", default="test")
    p.add_argument("--config", action="append", choices=sorted(CONFIGS), help=f"configuration(s) to run (default: {', '.join(DEFAULT_CONFIGS)}; '{DEFAULT_CONFIG}' is the service's; 'txtai' needs the [compare] extra)")
    p.add_argument("--show-failures", action="store_true", help="list answerable questions whose answer is not in the top 10")
    p.add_argument("--report", type=Path, metavar="DIR", help="write report.json and report.md there")
    p.add_argument("--two-fold", action="store_true", help="calibrate min_support on each half of the questions and measure abstention on the other")
    p.add_argument("--check", action="store_true", help="exit 1 if a figure falls below eval/thresholds.toml")
    p.add_argument("--thresholds", type=Path, default=THRESHOLDS)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def _docent(args: argparse.Namespace, settings, suite: Suite):
    from embeddings.encoder import load_encoder
    from embeddings.ingest import ingest
    from service.engine import Docent

    encoder = load_encoder(settings.model, settings.device)
    if args.index:
        return Docent.open(dataclasses.replace(settings, data_dir=args.index, sample_when_empty=False), encoder)
    source = args.records or suite.corpus_file
    if source is None:
        raise InvalidInputError(f"{suite.path} has no corpus.jsonl: give --records FILE or --index DIR")
    fmt = "beir" if source == suite.corpus_file and "_id" in source.open(encoding="utf-8").readline() else None
    result = load_files([source], fmt=fmt)
    key = hashlib.sha256(f"{source.resolve()}|{settings.model}".encode()).hexdigest()[:16]
    cache = settings.cache_dir / "eval" / key
    report = ingest(cache, result.records, encoder, replace=True, batch_size=settings.batch_size, progress=not args.quiet)
    print(f"index: {source} → {cache} ({report.summary()})", file=sys.stderr)
    return Docent.open(dataclasses.replace(settings, data_dir=cache, sample_when_empty=False), encoder)


def cmd_eval(args: argparse.Namespace, settings) -> int:
    suite = load_suite(args.suite, args.split)
    configs = args.config or DEFAULT_CONFIGS
    default = DEFAULT_CONFIG if DEFAULT_CONFIG in configs else configs[0]
    minimums = load_thresholds(args.thresholds, suite.path.name) if args.check else None
    docent = _docent(args, settings, suite)
    try:
        results = [run_config(docent, suite, name, progress=not args.quiet) for name in configs]
        figures = measure(suite, results, default)
        about = provenance(docent.collection.manifest, suite.path, suite.split, configs, default, settings)
    finally:
        docent.close()
    found = failures(suite, next(r for r in results if r.name == default))
    print(f"suite {suite.path} ({suite.split}): {len(suite.answerable)} answerable, {len(suite.unanswerable)} unanswerable questions; "
          f"{about['records']:,} records, model {about['model']}")
    print(table(figures, default))
    if args.two_fold:
        print()
        print(two_fold_text(two_fold(suite, next(r for r in results if r.name == default), settings)))
    if args.show_failures:
        print()
        print(failures_text(found))
    if args.report:
        paths = write_reports(args.report, about, figures, found, default)
        print("reports: " + ", ".join(map(str, paths)))
    if minimums is not None:
        problems = check(figures, default, minimums)
        if problems:
            print(f"CHECK FAILED against {args.thresholds}:", *problems, sep="\n  ")
            return 1
        print(f"check passed against {args.thresholds} [suites.{suite.path.name}]")
    return 0
