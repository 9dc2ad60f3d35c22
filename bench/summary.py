"""The benchmark report as Markdown tables (written beside report.json; the
figures in docs/performance.md are pasted from it).

    python -m bench.summary test-artifacts/bench/report.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

VARIANTS = ("plain", "service")


def _ms(figures: dict) -> str:
    return f"{figures['p50']:.1f} / {figures['p95']:.1f} / {figures['p99']:.1f}"


def markdown(report: dict) -> str:
    scales = report["scales"]
    labels = list(scales)
    out = [f"Command: `{report['command']}`, {report['started_at']}. Machine: {report['machine']['cpu']}, "
           f"{report['machine']['cores']} cores, {report['machine']['memory_gib']} GiB, Linux {report['machine']['kernel']}, "
           f"Python {report['machine']['python']}, " + ", ".join(f"{k} {v}" for k, v in report["machine"]["versions"].items())
           + f"; load average {report['machine']['load_average_at_start'][0]:.1f} at the start, "
           f"{report['machine']['load_average_at_end'][0]:.1f} at the end (the machine is shared).", ""]
    if "ingest" in report:
        i = report["ingest"]
        out += [f"**Ingest** ({i['records']} real records, median of {len(i['rounds'])} rounds): {i['ingest_per_s']} records/s, "
                f"bare encoder {i['encoder_per_s']} records/s on the same texts: ratio **{i['ratio']:.2f}**.", ""]
    alone = [s for s in labels if "ask_alone" in scales[s]]
    if alone:
        out += ["**/ask, one client, each variant alone** (ms, p50 / p95 / p99; the latency targets' figures):", "",
                "| | " + " | ".join(alone) + " |", "|---|" + "---|" * len(alone)]
        for variant in scales[alone[0]]["ask_alone"]:
            passes = [scales[s]["ask_alone"][variant] for s in alone]
            out.append(f"| question encode (bare encoder), beside `{variant}` | " + " | ".join(_ms(p["question_encode"]) for p in passes) + " |")
            out.append(f"| `{variant}` total | " + " | ".join(_ms(p[variant]["total"]) for p in passes) + " |")
            for phase in ("encode", "search", "compose"):
                out.append(f"| … {phase} | " + " | ".join(_ms(p[variant][phase]) for p in passes) + " |")
        out.append("")
    out += ["**/ask, one client, in process, the variants side by side** (ms, p50 / p95 / p99):", "",
            "| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    out.append("| question encode (bare encoder) | " + " | ".join(_ms(scales[s]["ask"]["question_encode"]) for s in labels) + " |")
    for variant in VARIANTS:
        out.append(f"| `{variant}` total | " + " | ".join(_ms(scales[s]["ask"][variant]["total"]) for s in labels) + " |")
        for phase in ("encode", "search", "compose"):
            out.append(f"| … {phase} | " + " | ".join(_ms(scales[s]["ask"][variant][phase]) for s in labels) + " |")
    out += ["", "**Throughput** (answers/s; in process: `serial` / `batching` / `service`; over HTTP: `docent serve`):", "",
            "| clients | " + " | ".join(f"{s} in process | {s} HTTP" for s in labels) + " |", "|---|" + "---|---|" * len(labels)]
    for clients in scales[labels[0]]["throughput"]["service"]:
        cells = []
        for s in labels:
            t = scales[s]["throughput"]
            cells.append(" / ".join(f"{t[v][clients]['answers_per_s']:.0f}" for v in ("serial", "batching", "service")))
            cells.append(f"{scales[s]['http']['throughput'][clients]['answers_per_s']:.0f}" if "http" in scales[s] else "–")
        out.append(f"| {clients} | " + " | ".join(cells) + " |")
    out += ["", "**Over HTTP, one client** (ms, p50 / p95 / p99): " + "; ".join(
        f"{s}: {_ms(scales[s]['http']['latency'])}" for s in labels if "http" in scales[s]), ""]
    out += ["| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    rows = {
        "index": lambda s: s["index_type"],
        "recall@10 vs exact": lambda s: f"{min(s['recall'].values()):.3f}" if "recall" in s else "exact",
        "disk per record": lambda s: f"{s['disk_bytes_per_record']:,} B",
        "open index, fresh process (s)": lambda s: f"{s['cold_start']['open_index_s']:.3f}",
        "first search (s)": lambda s: f"{s['cold_start']['first_search_s']:.3f}",
        "load the model (s)": lambda s: f"{s['cold_start']['load_model_s']:.1f}",
        "`docent serve` until /health answers (s, median)": lambda s: f"{s['http']['ready_s']:.1f}" if "http" in s else "–",
        "server RSS: total / anonymous / mapped files (MiB)": lambda s: (
            "{VmRSS:.0f} / {RssAnon:.0f} / {RssFile:.0f}".format(**s["http"]["rss_mib"]["server"]) if "http" in s else "–"),
        "encoder process RSS (MiB)": lambda s: (
            ", ".join(f"{c['VmRSS']:.0f}" for c in s["http"]["rss_mib"]["children"]) or "–") if "http" in s else "–",
    }
    for name, cell in rows.items():
        out.append(f"| {name} | " + " | ".join(cell(scales[s]) for s in labels) + " |")
    if "incremental" in report:
        inc = report["incremental"]
        out += ["", f"**Incremental ingest** into a copy of the {inc['base_records']:,}-record collection:", "",
                "| step | seconds | texts embedded | encoding (s) | everything else (s) | shared with the previous generation |", "|---|---|---|---|---|---|"]
        for step in ("add", "update", "remove"):
            r = inc[step]
            out.append(f"| {step} | {r['seconds']} | {r['embedded']} | {r['encode_s']} | {r['other_s']} | {', '.join(r['files_shared_with_previous_generation'])} |")
    out += ["", "**Targets** (the issue's):", ""] + [f"- {'met' if r['ok'] else '**missed**'}: {r['what']} = {r['value']} (target {r['limit']})" for r in report.get("targets", [])]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
