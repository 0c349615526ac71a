#!/usr/bin/env python3
"""Side-by-side table of bench/scenarios.sh results and a latency plot (SVG, no dependencies).

    python3 bench/report.py bench/out        -> prints Markdown, writes bench/out/latency.svg

Reads every <scenario>-<target>.json written by parley-bench; ratios compare each peer with
Parley in the same run (the machine is shared, so only ratios within one run mean much).
"""
import json
import os
import sys

TARGETS = ["parley", "socketio", "ws"]
COLORS = {"parley": "#2b6cb0", "socketio": "#c05621", "ws": "#2f855a"}


def load(out_dir):
    runs = {}
    for name in sorted(os.listdir(out_dir)):
        if not name.endswith(".json"):
            continue
        scenario, _, target = name[:-5].rpartition("-")
        if target not in TARGETS or not scenario:
            continue
        with open(os.path.join(out_dir, name)) as f:
            runs.setdefault(scenario, {})[target] = json.load(f)
    return runs


def get(doc, *path):
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def figures(doc):
    """The headline figures of one run, by mode: (label, value, unit, smaller_is_better)."""
    r, cost, mode = doc.get("results", {}), doc.get("cost", {}), doc["mode"]
    rows = []
    if mode == "fanout":
        rows += [
            ("time to last recipient, median", get(r, "last_recipient_ms", "p50_ms"), "ms", True),
            ("time to last recipient, max", get(r, "last_recipient_ms", "max_ms"), "ms", True),
            ("delivery p50 (all)", get(r, "all_deliveries", "p50_ms"), "ms", True),
            ("delivery p99 (all)", get(r, "all_deliveries", "p99_ms"), "ms", True),
            ("misses", r.get("misses"), "", True),
        ]
    elif mode == "throughput":
        rows += [
            ("acked msgs/s", r.get("acked_per_s"), "/s", False),
            ("deliveries/s", r.get("deliveries_per_s"), "/s", False),
            ("ack p99", get(r, "ack_latency", "p99_ms"), "ms", True),
            ("delivery p50", get(r, "delivery_latency", "p50_ms"), "ms", True),
            ("delivery p99", get(r, "delivery_latency", "p99_ms"), "ms", True),
            ("misses", r.get("misses"), "", True),
        ]
    elif mode == "presence":
        rows += [
            ("watchers", get(doc, "params", "watchers"), "", False),
            ("transitions (connects + closes)", r.get("transitions"), "", False),
            ("presence.update received", r.get("received_updates"), "", False),
            ("presence.update expected", r.get("expected_updates"), "", False),
            ("missing", r.get("missing_updates"), "", True),
            ("updates per transition", r.get("updates_per_transition"), "", True),
            ("server CPU per transition", cost.get("node_cpu_us_per_transition"), "µs", True),
            ("server CPU per close", cost.get("node_cpu_us_per_close"), "µs", True),
        ]
    if mode in ("fanout", "throughput"):
        rows.append(("server CPU per delivery", cost.get("node_cpu_us_per_delivery"), "µs", True))
    if mode == "presence":
        rows.append(("server RSS after", (cost.get("node_rss_kb") or 0) / 1024 or None, "MiB", True))
        rows.append(("clients ready", get(doc, "members_connect", "ready"), "", False))
        return rows
    rss = get(r, "node_rss_kib_per_connection") or get(doc, "connect", "node_rss_kib_per_connection")
    rows.append(("server RSS per connection", rss, "KiB", True))
    rows.append(("clients ready", get(doc, "connect", "ready"), "", False))
    return rows


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float) and v < 100:
        return f"{v:,.1f}"
    return f"{v:,.0f}"


def table(scenario, docs):
    present = [t for t in TARGETS if t in docs]
    lines = [f"### {scenario}", ""]
    any_doc = docs[present[0]]
    lines.append(f"{any_doc['mode']}, {any_doc.get('nproc', '?')} cores, "
                 f"{len(any_doc.get('node_pids', []))} server process(es) per target")
    lines.append("")
    head = "| figure | " + " | ".join(present)
    peers = [t for t in present if t != "parley"]
    if "parley" in docs and peers:
        head += " | " + " | ".join(f"Parley vs {t}" for t in peers)
    lines += [head + " |", "|" + "---|" * head.count("|")]
    per_target = {t: figures(docs[t]) for t in present}
    for i, (label, _, unit, smaller_better) in enumerate(per_target[present[0]]):
        cells = [fmt(per_target[t][i][1]) + (f" {unit}" if unit and per_target[t][i][1] is not None else "")
                 for t in present]
        row = f"| {label} | " + " | ".join(cells)
        if "parley" in docs and peers:
            p = per_target["parley"][i][1]
            for t in present:
                if t == "parley":
                    continue
                v = per_target[t][i][1]
                if not p or not v or label in ("misses", "clients ready"):
                    row += " | –"
                else:
                    # >1 means Parley is better (faster, cheaper, more throughput).
                    row += f" | {(v / p if smaller_better else p / v):.2f}×"
        lines.append(row + " |")
    lines.append("")
    return "\n".join(lines)


def svg_plot(runs, path):
    """One panel per fan-out scenario (each with its own scale, smallest audience first):
    time to the last recipient, median over messages, per target."""
    groups = [(s, d) for s, d in runs.items() if any(x["mode"] == "fanout" for x in d.values())]
    if not groups:
        return False
    groups.sort(key=lambda g: max(get(x, "params", "members") or 0 for x in g[1].values()))
    panel_w, height, top, bottom = 250, 340, 50, 60
    width = panel_w * len(groups) + 20
    plot_h = height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">Fan-out: time to the '
           f'last recipient, median over messages (ms, lower is better)</text>']
    for gi, (scenario, docs) in enumerate(groups):
        x0, left = gi * panel_w + 20, gi * panel_w + 60
        vals = [get(d, "results", "last_recipient_ms", "p50_ms") or 0 for d in docs.values()]
        vmax = max(vals + [1]) * 1.2
        for k in range(5):
            y = top + plot_h - plot_h * k / 4
            out.append(f'<line x1="{left}" x2="{x0 + panel_w - 20}" y1="{y:.1f}" y2="{y:.1f}" '
                       f'stroke="#ddd"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
                       f'{vmax * k / 4:.0f}</text>')
        bw = (x0 + panel_w - 20 - left) / len(TARGETS)
        for ti, target in enumerate(TARGETS):
            v = get(docs.get(target, {}), "results", "last_recipient_ms", "p50_ms")
            if v is None:
                continue
            h = plot_h * v / vmax
            x = left + ti * bw + bw * 0.1
            out.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bw * 0.8:.1f}" '
                       f'height="{h:.1f}" fill="{COLORS[target]}"/>')
            out.append(f'<text x="{x + bw * 0.4:.1f}" y="{top + plot_h - h - 4:.1f}" '
                       f'text-anchor="middle" font-size="10">{v:.0f}</text>')
        out.append(f'<text x="{(left + x0 + panel_w - 20) / 2:.1f}" y="{top + plot_h + 18}" '
                   f'text-anchor="middle">{scenario}</text>')
    for ti, target in enumerate(TARGETS):
        x = 60 + ti * 110
        out.append(f'<rect x="{x}" y="{height - 20}" width="12" height="12" '
                   f'fill="{COLORS[target]}"/>')
        out.append(f'<text x="{x + 16}" y="{height - 10}">{target}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "bench/out"
    runs = load(out_dir)
    if not runs:
        sys.exit(f"report.py: no <scenario>-<target>.json files in {out_dir}")
    for scenario, docs in sorted(runs.items()):
        print(table(scenario, docs))
    plot = os.path.join(out_dir, "latency.svg")
    if svg_plot(runs, plot):
        print(f"plot: {plot}")


if __name__ == "__main__":
    main()
