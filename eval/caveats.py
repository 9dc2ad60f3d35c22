"""Measure the caveat rules against labelled records.

    python -m eval.caveats LABELS --records RECORDS [--json] [--check]

LABELS is JSON lines of ``{"id", "codes": [...], "why": {...}}``; RECORDS is
any file ``corpus.loaders`` reads. Precision, recall and support are plain
counts per code and pooled over all codes (micro). Every record where the
rules and the labels disagree is listed with both code sets, so a rule change
can be judged by reading what it gained and lost.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from corpus.caveats import CODES, caveats_for
from corpus.errors import DocentError, InvalidInputError
from corpus.loaders import load_files

# The bar the rules must clear for every code with enough labelled examples.
TARGET = 0.9
MIN_SUPPORT = 5


@dataclass
class CodeScore:
    code: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def predicted(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float | None:
        return self.tp / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.support if self.support else None

    def meets(self, target: float = TARGET) -> bool:
        return (self.precision or 0.0) >= target and (self.recall or 0.0) >= target

    def to_dict(self) -> dict:
        return {"code": self.code, "precision": self.precision, "recall": self.recall, "support": self.support,
                "predicted": self.predicted, "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass
class Disagreement:
    id: str
    title: str
    expected: list[str]
    predicted: list[str]
    # Why the rules fired (for extra codes) and why the labellers chose (for missed ones).
    explanations: dict[str, str] = field(default_factory=dict)
    label_why: dict[str, str] = field(default_factory=dict)

    @property
    def missed(self) -> list[str]:
        return [c for c in self.expected if c not in self.predicted]

    @property
    def extra(self) -> list[str]:
        return [c for c in self.predicted if c not in self.expected]


@dataclass
class CaveatReport:
    labels_path: str
    records_path: str
    records: int
    codes: dict[str, CodeScore]
    micro: CodeScore
    disagreements: list[Disagreement]
    missing_ids: list[str] = field(default_factory=list)
    target: float = TARGET
    min_support: int = MIN_SUPPORT

    def failing(self) -> list[str]:
        """Codes with enough support that miss the target precision or recall."""
        return [s.code for s in self.codes.values() if s.support >= self.min_support and not s.meets(self.target)]

    @property
    def meets_target(self) -> bool:
        return not self.failing()

    def to_dict(self) -> dict:
        return {
            "labels": self.labels_path,
            "records": self.records_path,
            "labelled_records": self.records,
            "missing_ids": self.missing_ids,
            "target": {"precision": self.target, "recall": self.target, "min_support": self.min_support},
            "meets_target": self.meets_target,
            "failing": self.failing(),
            "codes": {code: score.to_dict() for code, score in self.codes.items()},
            "micro": self.micro.to_dict(),
            "disagreements": [
                {**asdict(d), "missed": d.missed, "extra": d.extra} for d in self.disagreements
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def read_labels(path: str | Path) -> list[dict]:
    labels = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}, line {number}: not JSON ({exc.msg})") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not isinstance(entry.get("codes"), list):
                raise InvalidInputError(f"{path}, line {number}: expected an object with 'id' and a 'codes' list")
            unknown = sorted(set(entry["codes"]) - set(CODES))
            if unknown:
                raise InvalidInputError(f"{path}, line {number}: unknown caveat codes {unknown}; known: {', '.join(CODES)}")
            labels.append(entry)
    return labels


def evaluate_caveats(labels_path: str | Path, records_path: str | Path) -> CaveatReport:
    labels = read_labels(labels_path)
    records = {r.id: r for r in load_files([records_path], skip_invalid=True).records}
    scores = {code: CodeScore(code) for code in CODES}
    micro = CodeScore("micro")
    disagreements: list[Disagreement] = []
    missing: list[str] = []
    for entry in labels:
        record = records.get(entry["id"])
        if record is None:
            missing.append(entry["id"])
            continue
        caveats = caveats_for(record)
        predicted = {c.code for c in caveats}
        expected = set(entry["codes"])
        for code, score in scores.items():
            hit, want = code in predicted, code in expected
            score.tp += hit and want
            score.fp += hit and not want
            score.fn += want and not hit
        micro.tp += len(predicted & expected)
        micro.fp += len(predicted - expected)
        micro.fn += len(expected - predicted)
        if predicted != expected:
            disagreements.append(
                Disagreement(
                    id=record.id,
                    title=record.title,
                    expected=[c for c in CODES if c in expected],
                    predicted=[c for c in CODES if c in predicted],
                    explanations={c.code: c.explanation for c in caveats if c.code not in expected},
                    label_why={k: v for k, v in (entry.get("why") or {}).items() if k not in predicted},
                )
            )
    return CaveatReport(
        labels_path=str(labels_path),
        records_path=str(records_path),
        records=len(labels) - len(missing),
        codes=scores,
        micro=micro,
        disagreements=disagreements,
        missing_ids=missing,
    )


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def format_table(report: CaveatReport) -> str:
    rows = [["code", "precision", "recall", "support", "predicted", "target"]]
    for score in [*report.codes.values(), report.micro]:
        if score.code == "micro":
            status = "met" if report.meets_target else "NOT MET"
        elif score.support < report.min_support:
            status = f"(support < {report.min_support})"
        else:
            status = "ok" if score.meets(report.target) else "FAIL"
        rows.append([score.code, _figure(score.precision), _figure(score.recall), str(score.support), str(score.predicted), status])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def format_report(report: CaveatReport) -> str:
    parts = [
        f"Caveat rules against {report.labels_path} ({report.records} labelled records)",
        "",
        format_table(report),
        "",
        f"Target: precision and recall >= {report.target} for every code with support >= {report.min_support}: "
        + ("met." if report.meets_target else f"NOT met ({', '.join(report.failing())})."),
    ]
    if report.missing_ids:
        parts.append(f"{len(report.missing_ids)} labelled ids are not in {report.records_path}: {', '.join(report.missing_ids[:10])}")
    parts += ["", f"Disagreements ({len(report.disagreements)}):"]
    for d in report.disagreements:
        parts.append(f"- {d.id}  {d.title[:100]}")
        parts.append(f"    expected: {', '.join(d.expected) or '(none)'}")
        parts.append(f"    predicted: {', '.join(d.predicted) or '(none)'}")
        for code in d.extra:
            parts.append(f"    + {code}: {d.explanations.get(code, '')}")
        for code in d.missed:
            parts.append(f"    - {code}: labelled because {d.label_why.get(code, '(no reason given)')}")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None, prog: str = "python -m eval.caveats") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Measure the caveat rules against labelled records.")
    parser.add_argument("labels", type=Path, help="JSON lines: id, codes, why")
    parser.add_argument("--records", type=Path, required=True, help="the records the labels refer to (any loadable format)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--check", action="store_true", help=f"exit 1 unless every code with support >= {MIN_SUPPORT} reaches {TARGET}")
    args = parser.parse_args(argv)
    try:
        report = evaluate_caveats(args.labels, args.records)
    except (DocentError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else format_report(report))
    return 1 if args.check and not report.meets_target else 0


if __name__ == "__main__":
    sys.exit(main())
