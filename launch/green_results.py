#!/usr/bin/env python3
"""Writes docs/results.md and its SVG charts from the run dirs of launch/reproduce-green.sh.

Reads only what the runs wrote: metrics.jsonl (test accuracy of the final grid, Early-Bird records),
report/carbon.json (energy from the run's ledger, amortization). Standard library only.
Usage: green_results.py OUT_DIR DOCS_DIR
"""
import json
import os
import sys

SUBNETS = [("k3e3d2", 3, 3, 2), ("k3e6d2", 3, 6, 2), ("k7e3d4", 7, 3, 4), ("k7e6d4", 7, 6, 4)]
RATIOS = ["0.3", "0.5", "0.7"]


def records(run, kind):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [r for r in map(json.loads, f) if r.get("type") == kind]


def test_grid(run):
    """The final test grid: {(k, e, d): accuracy} of uniform subnets at 28 px, and its mean."""
    last = [r for r in records(run, "val") if r.get("split") == "test"][-1]
    grid = {}
    for g in last["grid"]:
        s = g["subnet"]
        grid[(s["ks"][0], s["e"][0], s["d"][0])] = g["accuracy"]
    return grid, last["mean_accuracy"]


def carbon(run):
    with open(os.path.join(run, "report", "carbon.json")) as f:
        return json.load(f)


def segment_joules(c, prefix):
    return sum(s["joules"] for s in c["segments"] if s["segment"].startswith(prefix))


def kj(j):
    return f"{j / 1000:.1f}"


def bar_chart(title, unit, groups, series, values, colors=("#4477aa", "#ee6677", "#228833", "#ccbb44")):
    """Grouped bars: values[g][s] (None: no bar). Returns SVG text."""
    w, h, left, top, bottom = 640, 320, 60, 40, 60
    vmax = max(v for row in values for v in row if v is not None) * 1.1
    vmin = 0.0
    if unit == "%":
        vmin = max(0.0, min(v for row in values for v in row if v is not None) - 5)
    plot_w, plot_h = w - left - 20, h - top - bottom
    gw = plot_w / len(groups)
    bw = gw * 0.8 / len(series)
    y = lambda v: top + plot_h * (1 - (v - vmin) / (vmax - vmin))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{w - 20}" y2="{top + plot_h}" stroke="#333"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>']
    for i in range(5):
        v = vmin + (vmax - vmin) * i / 4
        out.append(f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    out.append(f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
               f'text-anchor="middle">{unit}</text>')
    for gi, g in enumerate(groups):
        x0 = left + gi * gw + gw * 0.1
        out.append(f'<text x="{left + gi * gw + gw / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{g}</text>')
        for si in range(len(series)):
            v = values[gi][si]
            if v is None:
                continue
            out.append(f'<rect x="{x0 + si * bw:.1f}" y="{y(v):.1f}" width="{bw * 0.95:.1f}" '
                       f'height="{top + plot_h - y(v):.1f}" fill="{colors[si % len(colors)]}">'
                       f'<title>{series[si]}, {g}: {v:.2f}</title></rect>')
    for si, s in enumerate(series):
        lx = left + si * 150
        out.append(f'<rect x="{lx}" y="{h - 22}" width="10" height="10" fill="{colors[si % len(colors)]}"/>'
                   f'<text x="{lx + 14}" y="{h - 13}">{s}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(out, docs):
    rel = lambda p: os.path.relpath(p, os.getcwd()) if p.startswith(os.getcwd()) else p
    ps = os.path.join(out, "ps")
    ps_grid, ps_mean = test_grid(ps)
    ps_c = carbon(ps)
    lines = ["# Results: the energy claims measured on our own runs", "",
             "Produced by `launch/reproduce-green.sh` (its printout lists every command); each figure names the run "
             "directory it came from. Energy is each run's own ledger (`report/carbon.json`, all segments, all ranks)."]
    est = ps_c["total"]["estimated_share"]
    if est > 0:
        lines += ["", f"**On this machine {100 * est:.0f}% of the energy is an ESTIMATE**, not a counter reading: "
                  "there is no RAPL, hwmon or NVML counter on the VM, so the ledger integrates configured watts x "
                  "the CPU's busy fraction (`docs/energy.md`). Ratios between runs on the same machine are "
                  "meaningful; absolute joules are not."]

    # Table 1: accuracy of each subnet, PS vs scratch vs fine-tuned.
    rows, acc_values, energy_values = [], [], []
    for name, k, e, d in SUBNETS:
        sc, ft = os.path.join(out, f"scratch-{name}"), os.path.join(out, f"finetune-{name}")
        sc_acc = test_grid(sc)[1]
        ft_acc = test_grid(ft)[1]
        sc_j, ft_j = carbon(sc)["total"]["joules"], carbon(ft)["total"]["joules"]
        a = ps_grid[(k, e, d)]
        rows.append(f"| {name} (k{k} e{e} d{d}, 28 px) | {100 * a:.2f} | {100 * sc_acc:.2f} ({kj(sc_j)} kJ) | "
                    f"{100 * ft_acc:.2f} ({kj(ft_j)} kJ) | {100 * (a - sc_acc):+.2f} |")
        acc_values.append([100 * a, 100 * sc_acc, 100 * ft_acc])
        energy_values.append([None, sc_j / 1000, ft_j / 1000])
    ps_j = ps_c["total"]["joules"]
    lines += ["", "## 1. Progressive shrinking vs from scratch vs fine-tuned", "",
              f"Test accuracy (%, 10,000 test images, BN recalibrated). PS: one supernet, `{rel(ps)}` "
              f"({kj(ps_j)} kJ for all its subnets); from scratch: `{rel(out)}/scratch-<subnet>`, phase 0's schedule "
              f"(4 epochs); fine-tuned: `{rel(out)}/finetune-<subnet>`, 0.5 epoch from the PS supernet, distilled "
              "from its full network.", "",
              "| subnet | PS | from scratch (energy) | fine-tuned (energy) | PS - scratch |", "|---|---|---|---|---|"]
    lines += rows
    wins = sum(1 for v in acc_values if v[0] >= v[1])
    lines += ["", f"PS at least as accurate as from scratch for {wins} of {len(SUBNETS)} subnets.", "",
              "![accuracy](results/accuracy.svg)"]

    # Table 2: energy and break-even K, measured.
    am = ps_c["amortization"]
    lines += ["", "## 2. Energy and break-even K (measured)", "",
              "| run | energy (kJ) | dir |", "|---|---|---|", f"| PS supernet (all phases) | {kj(ps_j)} | `{rel(ps)}` |"]
    for name, *_ in SUBNETS:
        for kind in ("scratch", "finetune"):
            run = os.path.join(out, f"{kind}-{name}")
            lines.append(f"| {kind} {name} | {kj(carbon(run)['total']['joules'])} | `{rel(run)}` |")
    if am.get("basis") == "measured":
        m = am["scratch_measured"]
        lines += ["", f"One network from scratch, measured: mean {kj(m['mean'])} kJ (min {kj(m['min'])}, max "
                  f"{kj(m['max'])}, standard deviation {kj(m['stddev'])}) over {len(m['runs'])} runs. The supernet "
                  f"costs {kj(ps_j)} kJ: **break-even K = {am['break_even_k']}** (`{rel(ps)}/report/carbon.json`, "
                  "amortization basis \"measured\"). Fine-tuning each deployed subnet adds its own energy above; "
                  "neither side counts search."]
    lines += ["", "![energy](results/energy.svg)"]

    # Table 3: Early-Bird.
    base_phase0 = segment_joules(ps_c, "phase0:")
    lines += ["", "## 3. Early-Bird in phase 0", "",
              "A mask every 50 steps (phase 0 has 1,816 steps at np=2), FIFO of 5, epsilon 0.1, no L1. Energy saved "
              "= phase-0 energy of the PS run minus that of the Early-Bird run (both measured). \"Not spent\" is "
              "what the Early-Bird run's report priced its skipped samples at (its own phase-0 joules per sample), "
              "a cross-check that needs no second run.", "",
              "| prune ratio | ticket at step | phase-0 energy (kJ) | saved vs PS | not spent, by its own ledger (kJ) "
              "| final grid mean (%) | vs PS (points) | dir |",
              "|---|---|---|---|---|---|---|---|",
              f"| none (PS) | - | {kj(base_phase0)} | - | - | {100 * ps_mean:.2f} | - | `{rel(ps)}` |"]
    eb_values = []
    for p in RATIOS:
        run = os.path.join(out, f"eb-{p}")
        c = carbon(run)
        ends = records(run, "phase_end_early")
        at = f"{ends[0]['step']} of {ends[0]['steps']}" if ends else "not found"
        ph0 = segment_joules(c, "phase0:")
        mean = test_grid(run)[1]
        ns = c.get("not_spent", [])
        ledger = kj(ns[0]["joules_not_spent"]) if ns else "-"
        lines.append(f"| {p} | {at} | {kj(ph0)} | {100 * (1 - ph0 / base_phase0):.0f}% | {ledger} | {100 * mean:.2f} | "
                     f"{100 * (mean - ps_mean):+.2f} | `{rel(run)}` |")
        eb_values.append([base_phase0 / 1000, ph0 / 1000])
    lines += ["", "![early-bird](results/early_bird.svg)", ""]
    notes = os.path.join(docs, "results-reading.md")  # the hand-written reading of these figures
    if os.path.exists(notes):
        with open(notes) as f:
            lines += ["## Reading", "", f.read().strip(), ""]

    os.makedirs(os.path.join(docs, "results"), exist_ok=True)
    charts = {
        "accuracy.svg": bar_chart("Test accuracy per subnet", "%", [s[0] for s in SUBNETS],
                                  ["progressive shrinking", "from scratch", "fine-tuned"], acc_values),
        "energy.svg": bar_chart(f"Energy per network (PS supernet: {kj(ps_j)} kJ for all)", "kJ",
                                [s[0] for s in SUBNETS], ["PS (shared)", "from scratch", "fine-tuning"], energy_values),
        "early_bird.svg": bar_chart("Phase-0 energy without and with Early-Bird", "kJ", [f"p = {p}" for p in RATIOS],
                                    ["PS phase 0", "Early-Bird phase 0"], eb_values),
    }
    for name, svg in charts.items():
        with open(os.path.join(docs, "results", name), "w") as f:
            f.write(svg)
    with open(os.path.join(docs, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {docs}/results.md and {len(charts)} charts in {docs}/results/")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(os.path.abspath(sys.argv[1]), sys.argv[2])
