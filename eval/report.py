"""Evaluation reports (terminal table, Markdown, JSON) and the regression gate."""

from __future__ import annotations

import json
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

from corpus.errors import ConfigError
from eval.retrieval import Failure

COLUMNS = [("nDCG@10", "ndcg@10"), ("R@1", "recall@1"), ("R@5", "recall@5"), ("R@10", "recall@10"),
           ("R@100", "recall@100"), ("MRR@10", "mrr@10"), ("MAP", "map"), ("Hit@5 (grade 2)", "hit_rate@5-l2")]


def table(figures: dict[str, dict], default: str) -> str:
    header = ["config"] + [c for c, _ in COLUMNS] + ["p50 ms", "p95 ms", "abstain (unans.)", "false abstain"]
    rows = [header, ["---"] * len(header)]
    for name, fig in figures.items():
        pvals = fig.get("p_value_vs_default", {})
        cells = [name + (" (default)" if name == default else "")]
        for _, metric in COLUMNS:
            value = f"{fig['metrics'][metric]:.3f}"
            if metric in pvals and pvals[metric] < 0.05:
                value += "*"
            cells.append(value)
        ab = fig["abstention"]
        cells += [f"{fig['latency_ms']['p50']:.1f}", f"{fig['latency_ms']['p95']:.1f}", _pct(ab["abstention_rate"]), _pct(ab["false_abstention_rate"])]
        rows.append(cells)
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.append(f"\n`*` = differs from `{default}` with p < 0.05 (paired t-test, ranx).")
    calibrated = figures.get(default, {}).get("abstention", {}).get("calibrated_min_support")
    if calibrated is not None:
        lines.append(f"Calibrated min_support for `{default}` (most abstentions, then fewest false, ≤ 5 % false; eval.abstention): {calibrated}")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def failures_text(found: list[Failure]) -> str:
    if not found:
        return "No failures: every answerable question has an answering record in the top 10."
    out = [f"{len(found)} answerable questions without an answering record in the top 10:"]
    for f in found:
        where = f"rank {f.rank}" if f.rank else "not in the top 100"
        out.append(f"\n{f.query_id}: {f.text}\n  answer {', '.join(f.answer_ids)}: {where}; ranked above it:")
        out += [f"    {i}. {rid} ({date}) {title[:90]}" for i, (rid, date, title) in enumerate(f.above, start=1)]
    return "\n".join(out)


def provenance(manifest: dict, suite_path: Path, split: str, configs: list[str], default: str, settings) -> dict:
    versions = dict(manifest.get("versions", {}))
    for package in ("ranx",):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[package] = "not installed"
    return {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["docent", *sys.argv[1:]]),
        "suite": str(suite_path),
        "split": split,
        "corpus_checksum": manifest["corpus_checksum"],
        "records": manifest["record_count"],
        "model": manifest["model"],
        "configs": configs,
        "default_config": default,
        "settings": {"min_score": settings.min_score, "min_support": settings.min_support, "default_k": settings.default_k},
        "versions": versions,
    }


def write_reports(directory: Path, about: dict, figures: dict, found: list[Failure], default: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "report.json", directory / "report.md"
    body = {"about": about, "figures": figures, "failures": [f.__dict__ for f in found]}
    json_path.write_text(json.dumps(body, indent=2, default=list), encoding="utf-8")
    about_md = "\n".join(f"- **{k}**: {v if not isinstance(v, dict) else ', '.join(f'{a} {b}' for a, b in v.items())}" for k, v in about.items())
    md_path.write_text(
        f"# Retrieval evaluation\n\n{about_md}\n\n## Figures\n\n{table(figures, default)}\n\n## Failures of `{default}`\n\n```\n{failures_text(found)}\n```\n",
        encoding="utf-8",
    )
    return [json_path, md_path]


def load_thresholds(path: Path, suite_name: str) -> dict[str, float]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"thresholds file {path}: {exc}") from None
    minimums = data.get("suites", {}).get(suite_name)
    if minimums is None:
        raise ConfigError(f"thresholds file {path} has no [suites.{suite_name}] table")
    return minimums


def check(figures: dict, default: str, minimums: dict[str, float]) -> list[str]:
    """Figures of the default configuration that fall below their minimum (or above a maximum)."""
    fig = figures[default]
    flat = {**fig["metrics"], **{k: v for k, v in fig["abstention"].items() if isinstance(v, float)}}
    problems = []
    for key, bound in minimums.items():
        if key.startswith("max_"):
            name = key[4:]
            if flat.get(name) is not None and flat[name] > bound:
                problems.append(f"{name} = {flat[name]:.4f} is above the maximum {bound}")
        elif key not in flat:
            problems.append(f"{key}: no such figure (known: {', '.join(sorted(flat))})")
        elif flat[key] is not None and flat[key] < bound:
            problems.append(f"{key} = {flat[key]:.4f} is below the minimum {bound}")
    return problems


