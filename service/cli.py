"""The ``docent`` command line: ingest, remove, serve, ask, info, eval, feedback export.

Every ``DocentError`` becomes one line on stderr and exit status 2; nothing
prints a traceback at a user.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from pathlib import Path

import msgspec

from corpus.errors import DocentError
from corpus.loaders import REGISTRY, LoadResult, load_files
from service.settings import Settings

log = logging.getLogger("docent")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name, None) for name in ("data_dir", "model", "host", "port")}
    return Settings.load(config=args.config_file, **overrides)


def _print_load_report(result: LoadResult) -> None:
    print(f"read: {result.summary()}", file=sys.stderr)
    for error in result.invalid:
        print(f"  skipped: {error}", file=sys.stderr)
    for dup in result.duplicates:
        kind = "identical copy" if dup.identical else "same id, different content; kept the first"
        print(f"  duplicate: {dup.id} at {dup.location} (first at {dup.first_location}; {kind})", file=sys.stderr)


def cmd_ingest(args: argparse.Namespace) -> int:
    from embeddings.encoder import load_encoder
    from embeddings.ingest import ingest

    settings = _settings(args)
    result = load_files(args.files, fmt=args.format, skip_invalid=args.skip_invalid)
    _print_load_report(result)
    encoder = load_encoder(settings.model, settings.device, settings.encoder_threads)
    report = ingest(
        settings.data_dir, result.records, encoder, replace=args.replace, batch_size=settings.batch_size, progress=not args.quiet,
        index_type=settings.index_type, flat_max_records=settings.flat_max_records,
    )
    print(f"ingested into {settings.data_dir}: {report.summary()} ({report.seconds:.1f} s)")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from embeddings.ingest import remove

    settings = _settings(args)
    report = remove(settings.data_dir, args.ids, index_type=settings.index_type, flat_max_records=settings.flat_max_records)
    for note in report.notes:
        print(f"  not in the index: {note}", file=sys.stderr)
    print(f"removed from {settings.data_dir}: {report.removed} records; {report.total} records in the index ({report.seconds:.1f} s)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    # The model loads in its own process (seconds of imports) while this one
    # imports the web stack; both before the first request.
    from embeddings.batching import serving_encoder

    encoder = serving_encoder(**settings.encoder_options(), wait=False)
    import uvicorn

    from service.app import create_app

    print(f"archive-docent: loading the index in {settings.data_dir}; then open http://{settings.host}:{settings.port}/", file=sys.stderr)
    uvicorn.run(create_app(settings, encoder), host=settings.host, port=settings.port, log_level="info",
                timeout_keep_alive=settings.keep_alive_seconds)
    return 0


def _open(args: argparse.Namespace):
    from service.engine import Docent

    return Docent.open(_settings(args))


def print_answer(response) -> None:
    print(response.answer)
    if not response.sources:
        return
    print("\nSources:")
    for s in response.sources:
        print(f"[{s.n}] {s.date or 'Undated'} (precision: {s.precision}) — {s.title}")
        print(f"    id {s.id} · score {s.score:.2f}" + (f" · {s.url}" if s.url else ""))
        for line in textwrap.wrap(s.summary, width=88):
            print(f"    {line}")
        for note in s.notes:
            for i, line in enumerate(textwrap.wrap(note, width=84)):
                print(f"    {'Note: ' if i == 0 else '      '}{line}")
        for caveat in s.caveats:
            for i, line in enumerate(textwrap.wrap(f"[{caveat.label}] {caveat.explanation}", width=84)):
                print(f"    {'Caveat: ' if i == 0 else '        '}{line}")


def cmd_ask(args: argparse.Namespace) -> int:
    from service.schemas import AskRequest

    docent = _open(args)
    try:
        response = docent.ask(AskRequest(question=args.question, k=args.k, date_from=args.date_from, date_to=args.date_to))
    finally:
        docent.close()
    if args.json:
        print(msgspec.json.encode(response).decode())
    else:
        print_answer(response)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from embeddings.collection import Collection

    settings = _settings(args)
    collection = Collection.open(settings.data_dir, verify=True, full_verify=args.verify)
    m = collection.manifest
    collection.close()
    if args.json:
        print(json.dumps(m, indent=2))
        return 0
    span = m.get("date_span") or [None, None]
    print(f"data dir:   {settings.data_dir} ({collection.path.name})")
    print(f"records:    {m['record_count']:,} ({m.get('undated', 0):,} undated)")
    print(f"date span:  {span[0] or '—'} to {span[1] or '—'}")
    print(f"model:      {m['model']} ({m['dimension']} dimensions), index {m.get('index_type')}")
    print(f"checksum:   {m['corpus_checksum']}")
    print(f"created:    {m['created_at']}")
    print("verified:   " + ("every byte of every file (SHA-256)" if args.verify else "sizes; small files fully, large ones by sampled blocks (--verify: every byte)"))
    print("versions:   " + ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()))
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from service.feedback import FEEDBACK, export_suite

    report = export_suite(_settings(args).data_dir / FEEDBACK, Path(args.dir))
    print(report.summary())
    print(f"evaluate with: docent eval {args.dir} --records RECORDS", file=sys.stderr)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from eval.cli import cmd_eval

    return cmd_eval(args, _settings(args))


class Parser(argparse.ArgumentParser):
    """Bad arguments are one line and exit status 2, like every other CLI error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="docent", description="Answer questions from archival record summaries, with citations.")
    common = Parser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="index directory (env DOCENT_DATA_DIR)")
    common.add_argument("--config-file", dest="config_file", help="TOML settings file (env DOCENT_CONFIG)")
    common.add_argument("--model", help="'all-MiniLM-L6-v2' (default), 'hashing', or a local sentence-transformers model directory")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", parents=[common], help="load record files into the index (adds and updates by id)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--format", choices=sorted(REGISTRY), help="file format (default: from the extension)")
    p.add_argument("--skip-invalid", action="store_true", help="load the valid records and list the invalid ones")
    p.add_argument("--replace", action="store_true", help="replace the collection instead of adding to it")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_ingest)

    p = sub.add_parser("serve", parents=[common], help="run the web service and chat UI")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("ask", parents=[common], help="answer one question in the terminal")
    p.add_argument("question")
    p.add_argument("--k", type=int, help="most sources to cite")
    p.add_argument("--from", dest="date_from", help="only records overlapping this date or later (e.g. 1950, 'May 1950', 1950-05-14)")
    p.add_argument("--to", dest="date_to", help="only records overlapping this date or earlier")
    p.add_argument("--json", action="store_true", help="print the /ask JSON")
    p.set_defaults(run=cmd_ask)

    from eval.cli import add_parser as add_eval_parser

    add_eval_parser(sub, common, lambda args: _eval(args))

    p = sub.add_parser("feedback", help="readers' votes from the chat page")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("export", parents=[common], help="write the votes as a BEIR-style evaluation suite")
    p.add_argument("dir", metavar="DIR", help="folder for queries.jsonl and qrels/test.tsv (created; files replaced)")
    p.set_defaults(run=cmd_feedback_export)

    p = sub.add_parser("info", parents=[common], help="what the index holds")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.add_argument("--verify", action="store_true", help="hash every byte of the index files (slow on large indexes)")
    p.set_defaults(run=cmd_info)

    p = sub.add_parser("remove", parents=[common], help="remove records from the index by id")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.set_defaults(run=cmd_remove)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["eval", "caveats"]:
        from eval.caveats import main as caveats_main

        return caveats_main(argv[2:], prog="docent eval caveats")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("docent").setLevel(logging.INFO)
    try:
        return args.run(args)
    except DocentError as exc:
        print(f"docent: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("docent: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
