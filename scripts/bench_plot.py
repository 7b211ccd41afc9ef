#!/usr/bin/env python3
"""Plots Google Benchmark JSON output as an SVG: standard library only, no matplotlib.

Input: one or more files written by a benchmark program run with
    --benchmark_out=run.json --benchmark_out_format=json
A benchmark's name is split at '/': the non-numeric parts are its family ("FusedTopK",
"HashingEmbed/idf"), the numeric parts its arguments ("FusedTopK/100000/64/real_time" has
arguments 100000 and 64; "n:100" counts as an argument named n, "threads:2" as one named
threads). Modifiers such as real_time, min_time:2.000 and repeats:3 are ignored.

Modes:
  line  a metric against one argument, one line per family (and per value of the other
        arguments, when they vary), e.g. throughput against catalog size;
  bar   a metric per family, grouped by arguments; with --baseline, each bar is the ratio to
        the baseline benchmark with the same arguments in the same file (how many times better
        than the baseline: baseline time / time, or value / baseline value for a counter).

Metrics: real_time, cpu_time (converted to one unit), or any counter of the JSON
(bytes_per_second, items_per_second, user counters such as x_naive or us_per_decision).
Repetitions: when the file holds aggregates (--benchmark_repetitions=N), the one named by
--aggregate (median by default) is plotted; otherwise it is computed from the repetitions.
Runs with error_occurred are left out, with a warning. The values plotted are printed as a
table on stdout.

Examples (from the repository root):
  scripts/bench_plot.py line run.json --filter '^TdUpdate' --metric items_per_second \\
      --arg 0 --arg-names n --log-x -o td.svg
  scripts/bench_plot.py bar run.json --filter '^(StreamRead|FusedTopK|BatchTopK8)/' \\
      --baseline '^NaiveEigen/' --metric bytes_per_second --arg-names N,d -o topk.svg

Options of each mode: bench_plot.py line --help, bench_plot.py bar --help.

Exit status: 0 on success, 1 on bad input (unreadable or invalid JSON, a pattern that is not a
valid regular expression or selects nothing, a metric no selected run has), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import escape

PROG = "bench_plot"

# Okabe-Ito colours, ordered so that neighbouring series differ in lightness (CIE L* 46, 71,
# 14, 70, 54, 58, 61); markers, dashes and hatching tell series apart in grey-scale as well.
COLOURS = ["#0072B2", "#E69F00", "#222222", "#56B4E9", "#D55E00", "#009E73", "#CC79A7"]
MARKERS = ["circle", "square", "triangle", "diamond", "triangle_down", "cross"]
DASHES = ["", "7 4", "2 3", "9 3 2 3"]
HATCHES = ["", "/", "", "\\", "x", "-", "|"]

TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
TIME_LABELS = [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")]
MODIFIER = re.compile(
    r"^(real_time|process_time|manual_time|"
    r"(min_time|min_warmup_time|repeats|iterations):[^/]*)$")
NUMBER = re.compile(r"^-?\d+$")
NAMED_NUMBER = re.compile(r"^([A-Za-z_]\w*):(-?\d+)$")

BASELINE_STROKE = 'stroke="#000" stroke-width="1.2" stroke-dasharray="5 3"'
FONT = "DejaVu Sans,Helvetica,Arial,sans-serif"


class InputError(Exception):
    """A problem with the input files or the patterns: reported without a traceback."""


def warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


# ---- reading ----------------------------------------------------------------------------------

@dataclass
class Run:
    """One benchmark of one file, repetitions reduced to one value of the metric."""
    file_index: int
    run_name: str
    family: str
    args: list[int]
    arg_names: list[str | None]
    value: float


def parse_name(run_name: str) -> tuple[str, list[int], list[str | None]]:
    family, args, names = [], [], []
    for part in run_name.split("/"):
        named = NAMED_NUMBER.match(part)
        if MODIFIER.match(part):
            continue
        if NUMBER.match(part):
            args.append(int(part))
            names.append(None)
        elif named:
            args.append(int(named.group(2)))
            names.append(named.group(1))
        else:
            family.append(part)
    return "/".join(family), args, names


def load(path: str) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (not UTF-8)") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg});"
                         " was the benchmark run cut short?") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise InputError(f"{path}: not Google Benchmark JSON output (no \"benchmarks\" list);"
                         " write it with --benchmark_out=FILE --benchmark_out_format=json")
    return doc


def is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def metric_value(entry: dict, metric: str) -> float | None:
    """The entry's value of the metric, times in seconds (the JSON has them in time_unit)."""
    value = entry.get(metric)
    if not is_number(value):
        return None
    if metric in ("real_time", "cpu_time"):
        unit = entry.get("time_unit", "ns")
        if unit not in TIME_UNITS:
            raise InputError(f"{entry.get('name')}: unknown time_unit '{unit}'")
        return float(value) * TIME_UNITS[unit]
    return float(value)


def reduce_runs(doc: dict, file_index: int, path: str, wanted: Callable[[str], bool], metric: str,
                aggregate: str) -> tuple[list[Run], set[str], set[str]]:
    """The wanted benchmarks of one file, one value each; also the names wanted (those that
    failed or lack the metric included) and every metric their runs have."""
    by_name: dict[str, dict] = {}  # run name → {"iterations": [...], "aggregates": {name: entry}}
    matched: set[str] = set()
    metrics_seen: set[str] = set()
    failed: set[str] = set()
    for entry in doc["benchmarks"]:
        if not isinstance(entry, dict) or "name" not in entry:
            raise InputError(f"{path}: a benchmark entry without a name")
        run_name = entry.get("run_name", entry["name"])
        aggregate_name = entry.get("aggregate_name")
        if aggregate_name and run_name == entry["name"]:
            # Files from before run_name existed: strip the "_median" suffix ourselves.
            run_name = re.sub(r"_" + re.escape(aggregate_name) + r"$", "", run_name)
        if not wanted(run_name):
            continue
        matched.add(run_name)
        if entry.get("error_occurred"):
            # Every repetition of a failed benchmark repeats the error: say it once.
            if run_name not in failed:
                warn(f"{path}: {run_name}: left out (error: {entry.get('error_message', '?')})")
                failed.add(run_name)
            continue
        metrics_seen.update(k for k, v in entry.items() if is_number(v))
        slot = by_name.setdefault(run_name, {"iterations": [], "aggregates": {}})
        if entry.get("run_type") == "aggregate" or aggregate_name:
            slot["aggregates"][aggregate_name] = entry
        else:
            slot["iterations"].append(entry)

    runs = []
    for run_name, slot in by_name.items():
        entry = slot["aggregates"].get(aggregate)
        value = metric_value(entry, metric) if entry is not None else None
        if value is None:
            values = [v for v in (metric_value(e, metric) for e in slot["iterations"])
                      if v is not None]
            if not values:
                if slot["aggregates"] and not slot["iterations"] and \
                        aggregate not in slot["aggregates"]:
                    raise InputError(f"{path}: {run_name}: no '{aggregate}' aggregate and no "
                                     "repetitions to compute it from (was the run made with "
                                     "--benchmark_report_aggregates_only?)")
                continue
            reducer = {"median": statistics.median, "mean": statistics.fmean,
                       "min": min, "max": max}[aggregate]
            value = reducer(values)
        family, args, names = parse_name(run_name)
        runs.append(Run(file_index, run_name, family, args, names, value))
    return runs, matched, metrics_seen


def describe_context(docs: list[dict], aggregate: str) -> str:
    """A subtitle from the files' contexts: when, on what, under what load, how many repetitions."""
    contexts = [d.get("context", {}) if isinstance(d.get("context"), dict) else {} for d in docs]
    parts = []
    dates = list(dict.fromkeys(str(c["date"])[:16].replace("T", " ") for c in contexts
                               if c.get("date")))
    if dates:
        parts.append(", ".join(dates))
    cpus = {(c.get("num_cpus"), c.get("mhz_per_cpu")) for c in contexts}
    if len(cpus) == 1:
        num_cpus, mhz = cpus.pop()
        if num_cpus:
            parts.append(f"{num_cpus} CPUs" + (f" at {mhz / 1000:.1f} GHz" if mhz else ""))
    loads = [c["load_avg"][0] for c in contexts
             if isinstance(c.get("load_avg"), list) and c["load_avg"]]
    if loads:
        # The machine's load when each run started: a busy machine makes every figure noisy.
        parts.append("load " + ", ".join(f"{x:.1f}" for x in loads) + " at start")
    repetitions = sorted({e.get("repetitions", 1) for d in docs for e in d["benchmarks"]
                          if isinstance(e, dict)})
    if repetitions and repetitions[-1] > 1:
        counts = str(repetitions[0]) if len(repetitions) == 1 else \
            f"{repetitions[0]}–{repetitions[-1]}"
        parts.append(f"{aggregate} of {counts} repetitions")
    return " · ".join(parts)


# ---- units and numbers ------------------------------------------------------------------------

@dataclass
class Unit:
    scale: float  # plotted = value / scale
    label: str    # unit text for the axis label, "" when none


def is_time(metric: str) -> bool:
    return metric in ("real_time", "cpu_time")


def pick_unit(metric: str, values: list[float]) -> Unit:
    top = max(abs(v) for v in values) if values else 1.0
    if is_time(metric):
        for scale, label in TIME_LABELS:
            if top >= scale:
                return Unit(scale, label)
        return Unit(1e-9, "ns")
    rate = re.match(r"^(\w+?)_per_s(econd)?$", metric)
    if rate:
        what = {"bytes": "B", "items": "items"}.get(rate.group(1), rate.group(1))
        for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if top >= scale:
                # Decimal prefixes: GB/s is 10⁹ bytes/s (Google Benchmark's console uses 2³⁰).
                return Unit(scale, f"{prefix}{what}/s" if what == "B" else f"{prefix} {what}/s")
        return Unit(1.0, f"{what}/s")
    return Unit(1.0, "")


def metric_label(metric: str, unit: Unit) -> str:
    return f"{metric} ({unit.label})" if unit.label else metric


def fmt_number(v: float) -> str:
    """Short: at most 3 significant digits, no trailing zeros."""
    if v == 0:
        return "0"
    magnitude = abs(v)
    if magnitude >= 1e5 or magnitude < 1e-3:
        mantissa, exponent = f"{v:.2e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    digits = max(0, 2 - int(math.floor(math.log10(magnitude))))
    text = f"{v:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_arg(v: int) -> str:
    """Arguments as people write them: 100k, 1M; other numbers with thousands separators."""
    for scale, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if v != 0 and v % scale == 0:
            return f"{v // scale}{suffix}"
    return f"{v:,}"


def nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def linear_ticks(lo: float, hi: float, target: int = 6) -> tuple[float, float, list[float]]:
    if hi <= lo:
        hi = lo + (abs(lo) if lo else 1.0)
    step = nice_step(hi - lo, target)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    count = int(round((last - first) / step))
    return first, last, [first + i * step for i in range(count + 1)]


def log_ticks(lo: float, hi: float) -> tuple[float, float, list[float]]:
    lo_dec = math.floor(math.log10(lo) + 1e-9)
    hi_dec = math.ceil(math.log10(hi) - 1e-9)
    if hi_dec == lo_dec:
        hi_dec += 1
    # At most about 8 labelled decades; the last one labelled too.
    every = max(1, math.ceil((hi_dec - lo_dec) / 8))
    hi_dec = lo_dec + math.ceil((hi_dec - lo_dec) / every) * every
    decades = hi_dec - lo_dec
    ticks = [10.0 ** e for e in range(lo_dec, hi_dec + 1, every)]
    if decades <= 2:
        ticks += [m * 10.0 ** e for e in range(lo_dec, hi_dec) for m in (2, 5)]
    # Trim empty decades at the ends, keeping a tick on each side of the data.
    ticks.sort()
    below = [t for t in ticks if t <= lo * (1 + 1e-9)]
    above = [t for t in ticks if t >= hi * (1 - 1e-9)]
    first = below[-1] if below else ticks[0]
    last = above[0] if above else ticks[-1]
    return first, last, [t for t in ticks if first <= t <= last]


# ---- SVG --------------------------------------------------------------------------------------

def text_width(text: str, size: float) -> float:
    return 0.6 * size * len(text)


class Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, s: str) -> None:
        self.parts.append(s)

    def text(self, x: float, y: float, s: str, cls: str = "", anchor: str = "",
             rotate: bool = False) -> None:
        attrs = f'x="{x:.1f}" y="{y:.1f}"'
        if cls:
            attrs += f' class="{cls}"'
        if anchor:
            attrs += f' text-anchor="{anchor}"'
        if rotate:
            attrs += f' transform="rotate(-90 {x:.1f} {y:.1f})"'
        self.add(f"<text {attrs}>{escape(s)}</text>")


def marker(kind: str, x: float, y: float, colour: str, r: float = 4.0) -> str:
    style = f'fill="{colour}" stroke="#fff" stroke-width="1"'
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {style}/>'
    if kind == "square":
        return (f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" '
                f'height="{2 * r:.1f}" {style}/>')
    if kind == "cross":
        return (f'<path d="M{x - r:.1f} {y - r:.1f}L{x + r:.1f} {y + r:.1f}M{x - r:.1f} '
                f'{y + r:.1f}L{x + r:.1f} {y - r:.1f}" stroke="{colour}" stroke-width="2.2"/>')
    s = r * 1.25
    if kind == "triangle":
        points = [(x, y - s), (x + s, y + 0.8 * s), (x - s, y + 0.8 * s)]
    elif kind == "triangle_down":
        points = [(x, y + s), (x + s, y - 0.8 * s), (x - s, y - 0.8 * s)]
    else:  # diamond
        points = [(x, y - s), (x + s, y), (x, y + s), (x - s, y)]
    return f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in points)}" {style}/>'


def hatch_defs(count: int) -> str:
    defs = []
    for i in range(count):
        hatch = HATCHES[i % len(HATCHES)]
        if not hatch:
            continue
        colour = COLOURS[i % len(COLOURS)]
        lines = {"/": "M-1 1L1 -1M0 8L8 0M7 9L9 7", "\\": "M-1 7L1 9M0 0L8 8M7 -1L9 1",
                 "x": "M0 8L8 0M0 0L8 8", "-": "M0 4H8", "|": "M4 0V8"}[hatch]
        defs.append(f'<pattern id="h{i}" width="8" height="8" patternUnits="userSpaceOnUse">'
                    f'<rect width="8" height="8" fill="{colour}"/>'
                    f'<path d="{lines}" stroke="#fff" stroke-width="1.6"/></pattern>')
    return f"<defs>{''.join(defs)}</defs>" if defs else ""


def bar_fill(i: int) -> str:
    return f"url(#h{i})" if HATCHES[i % len(HATCHES)] else COLOURS[i % len(COLOURS)]


@dataclass
class Frame:
    """The plot area and its y axis, shared by both modes."""
    width: float
    height: float
    left: float
    top: float
    right: float
    bottom: float
    y_lo: float = 0.0
    y_hi: float = 1.0
    log_y: bool = False
    y_ticks: list[float] = field(default_factory=list)

    def y(self, v: float) -> float:
        if self.log_y and v <= 0:
            return self.bottom  # off a log axis: drawn at its foot
        if self.log_y:
            lo, hi = math.log10(self.y_lo), math.log10(self.y_hi)
            t = (math.log10(v) - lo) / (hi - lo)
        else:
            t = (v - self.y_lo) / (self.y_hi - self.y_lo)
        return self.bottom - t * (self.bottom - self.top)


def y_axis(values: list[float], log_y: bool, from_zero: bool, y_min: float | None,
           y_max: float | None) -> tuple[float, float, list[float]]:
    if log_y:
        positive = [v for v in values if v > 0]
        if not positive:
            raise InputError("--log-y needs positive values")
        lo, hi = min(positive), max(positive)
        lo, hi = (y_min if y_min else lo), (y_max if y_max else hi)
        return log_ticks(lo, hi)
    lo, hi = min(values), max(values)
    if from_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    lo = y_min if y_min is not None else lo
    hi = y_max if y_max is not None else hi
    return linear_ticks(lo, hi)


def start_svg(frame: Frame, title: str, subtitle: str) -> Svg:
    svg = Svg()
    svg.add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{frame.width:.0f}" '
            f'height="{frame.height:.0f}" viewBox="0 0 {frame.width:.0f} {frame.height:.0f}" '
            f'font-family="{FONT}" font-size="12">')
    svg.add("<style>.t{font-size:16px;font-weight:bold}.s{font-size:11px;fill:#555}"
            ".a{font-size:12px}.k{font-size:11px;fill:#333}.v{font-size:10px;fill:#333}"
            ".g{stroke:#e3e3e3}.f{fill:none;stroke:#888}</style>")
    svg.add(f'<rect width="{frame.width:.0f}" height="{frame.height:.0f}" fill="#fff"/>')
    svg.text(frame.left, 24, title, "t")
    if subtitle:
        svg.text(frame.left, 42, subtitle, "s")
    return svg


def draw_y_axis(svg: Svg, frame: Frame, ylabel: str) -> None:
    for t in frame.y_ticks:
        y = frame.y(t)
        svg.add(f'<path class="g" d="M{frame.left:.1f} {y:.1f}H{frame.right:.1f}"/>')
        svg.text(frame.left - 6, y + 4, fmt_number(t), "k", "end")
    label_x = frame.left - 12 - max(text_width(fmt_number(t), 11) for t in frame.y_ticks)
    svg.text(label_x, (frame.top + frame.bottom) / 2, ylabel, "a", "middle", rotate=True)


def draw_legend(svg: Svg, frame: Frame, labels: list[str], line: bool,
                baseline: str = "") -> None:
    """At the right of the plot, so that it never hides data."""
    x = frame.right + 18
    y = frame.top + 6
    for i, label in enumerate(labels):
        colour = COLOURS[i % len(COLOURS)]
        cy = y + 18 * i
        if line:
            dash = DASHES[i % len(DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            svg.add(f'<path d="M{x:.1f} {cy:.1f}h26" stroke="{colour}" stroke-width="2"'
                    f'{dash_attr}/>')
            svg.add(marker(MARKERS[i % len(MARKERS)], x + 13, cy, colour))
        else:
            svg.add(f'<rect x="{x + 4:.1f}" y="{cy - 6:.1f}" width="18" height="12" '
                    f'fill="{bar_fill(i)}" stroke="#333" stroke-width="0.6"/>')
        svg.text(x + 34, cy + 4, label, "k")
    if baseline:
        cy = y + 18 * len(labels)
        svg.add(f'<path d="M{x:.1f} {cy:.1f}h26" {BASELINE_STROKE}/>')
        svg.text(x + 34, cy + 4, baseline, "k")


def layout(width: float, height: float, legend: list[str], title: str, subtitle: str,
           min_plot_width: float = 240) -> Frame:
    """Room for the title above, the y-axis label and ticks at the left, the x ticks and label
    below and the legend at the right; the picture widens rather than squeeze the plot."""
    legend_width = 18 + 34 + max((text_width(s, 11) for s in legend), default=0) + 10
    left = 82
    top = 60 if subtitle else 44
    width = max(width, left + max(240, min_plot_width) + legend_width,
                left + text_width(title, 16) + 10,
                left + text_width(subtitle, 11) + 10)
    return Frame(width, height, left, top, width - legend_width, height - 54)


def clip_to(frame: Frame) -> str:
    """Data drawn inside the plot area only (--ymin/--ymax may cut it)."""
    return (f'<clipPath id="plot"><rect x="{frame.left:.1f}" y="{frame.top - 6:.1f}" '
            f'width="{frame.right - frame.left:.1f}" height="{frame.bottom - frame.top + 6:.1f}"/>'
            '</clipPath>')


# ---- the two modes ----------------------------------------------------------------------------

@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]  # (x, y) in metric units


def resolve_arg(runs: list[Run], arg: str, names: list[str]) -> int:
    if re.fullmatch(r"\d+", arg):
        return int(arg)
    for run in runs:
        if arg in run.arg_names:
            return run.arg_names.index(arg)
    if arg in names:
        return names.index(arg)
    raise InputError(f"--arg {arg}: no argument of that name (give an index or use --arg-names)")


def arg_name(runs: list[Run], index: int, names: list[str]) -> str:
    if index < len(names) and names[index]:
        return names[index]
    for run in runs:
        if index < len(run.arg_names) and run.arg_names[index]:
            return run.arg_names[index]
    return f"arg{index}"


def family_labels(runs: list[Run], files: list[str],
                  relabel: dict[str, str]) -> dict[tuple[int, str], str]:
    """Legend names: the family, renamed by --label; the file's name added when the same family
    comes from several files."""
    files_of: dict[str, set[int]] = {}
    for run in runs:
        files_of.setdefault(run.family, set()).add(run.file_index)
    unknown = set(relabel) - set(files_of)
    if unknown:
        raise InputError(f"--label names no plotted family: {', '.join(sorted(unknown))} "
                         f"(plotted: {', '.join(files_of)})")
    out = {}
    for run in runs:
        label = relabel.get(run.family, run.family)
        if len(files_of[run.family]) > 1:
            label += f" [{Path(files[run.file_index]).stem}]"
        out[(run.file_index, run.family)] = label
    return out


def plot_line(options: argparse.Namespace, runs: list[Run], files: list[str], subtitle: str) -> str:
    names = options.arg_names
    index = resolve_arg(runs, options.arg, names)
    usable = [r for r in runs if index < len(r.args)]
    if not usable:
        raise InputError(f"no selected benchmark has an argument {index} "
                         f"(e.g. {runs[0].run_name} has {len(runs[0].args)})")
    # Other arguments that vary among the selected runs name separate lines.
    others = [j for j in range(max(len(r.args) for r in usable)) if j != index and
              len({r.args[j] if j < len(r.args) else None for r in usable}) > 1]
    labels = family_labels(usable, files, options.label)
    series: dict[str, Series] = {}
    for run in usable:
        label = labels[(run.file_index, run.family)]
        extra = [f"{arg_name(usable, j, names)}={fmt_arg(run.args[j])}" for j in others
                 if j < len(run.args)]
        if extra:
            label += " (" + ", ".join(extra) + ")"
        point = (float(run.args[index]), run.value)
        series.setdefault(label, Series(label, [])).points.append(point)
    for s in series.values():
        s.points.sort()
        xs = [p[0] for p in s.points]
        if len(set(xs)) != len(xs):
            raise InputError(f"{s.label}: several runs at the same "
                             f"{arg_name(usable, index, names)}; narrow --filter")

    values = [y for s in series.values() for _, y in s.points]
    unit = pick_unit(options.metric, values)
    scaled = [Series(s.label, [(x, y / unit.scale) for x, y in s.points]) for s in series.values()]
    xname = arg_name(usable, index, names)
    ylabel = options.ylabel or metric_label(options.metric, unit)
    title = options.title or f"{options.metric} against {xname}"

    frame = layout(options.width, options.height, [s.label for s in scaled], title, subtitle)
    frame.log_y = options.log_y
    frame.y_lo, frame.y_hi, frame.y_ticks = y_axis(
        [y for s in scaled for _, y in s.points], options.log_y, True, options.ymin, options.ymax)

    xs = sorted({x for s in scaled for x, _ in s.points})
    if options.log_x and min(xs) <= 0:
        raise InputError("--log-x needs positive argument values")
    fx = (lambda v: math.log10(v)) if options.log_x else (lambda v: v)
    if len(xs) <= 10:
        x_ticks = xs
        lo, hi = fx(xs[0]), fx(xs[-1])
        pad = (hi - lo) * 0.06 or 1.0
        x_lo, x_hi = lo - pad, hi + pad
    elif options.log_x:
        a, b, x_ticks = log_ticks(xs[0], xs[-1])
        x_lo, x_hi = fx(a), fx(b)
    else:
        a, b, x_ticks = linear_ticks(xs[0], xs[-1])
        x_lo, x_hi = a, b

    def px(v: float) -> float:
        return frame.left + (fx(v) - x_lo) / (x_hi - x_lo) * (frame.right - frame.left)

    svg = start_svg(frame, title, subtitle)
    draw_y_axis(svg, frame, ylabel)
    label_end = -math.inf
    for t in x_ticks:
        x = px(t)
        svg.add(f'<path class="g" d="M{x:.1f} {frame.top:.1f}V{frame.bottom:.1f}"/>')
        label = fmt_arg(int(t)) if float(t).is_integer() else fmt_number(t)
        half = text_width(label, 11) / 2
        if x - half > label_end + 4:  # a label that would overlap the previous one is left out
            svg.text(x, frame.bottom + 16, label, "k", "middle")
            label_end = x + half
    xlabel = options.xlabel or (xname + (" (log scale)" if options.log_x else ""))
    svg.text((frame.left + frame.right) / 2, frame.bottom + 36, xlabel, "a", "middle")
    svg.add(f'<rect class="f" x="{frame.left:.1f}" y="{frame.top:.1f}" '
            f'width="{frame.right - frame.left:.1f}" height="{frame.bottom - frame.top:.1f}"/>')
    svg.add(clip_to(frame))
    svg.add('<g clip-path="url(#plot)">')
    for i, s in enumerate(scaled):
        colour = COLOURS[i % len(COLOURS)]
        dash = DASHES[i % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        path = "M" + "L".join(f"{px(x):.1f} {frame.y(y):.1f}" for x, y in s.points)
        svg.add(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        for x, y in s.points:
            svg.add(marker(MARKERS[i % len(MARKERS)], px(x), frame.y(y), colour))
    svg.add("</g>")
    draw_legend(svg, frame, [s.label for s in scaled], line=True)
    svg.add("</svg>")

    print(f"{'series':40} {xname:>12} {ylabel:>24}")
    for s in scaled:
        for x, y in s.points:
            print(f"{s.label:40} {fmt_arg(int(x)) if x.is_integer() else fmt_number(x):>12} "
                  f"{fmt_number(y):>24}")
    return "\n".join(svg.parts) + "\n"


def shape_label(args: list[int], runs: list[Run], names: list[str]) -> str:
    if not args:
        return ""
    if names or any(any(r.arg_names) for r in runs):
        return ", ".join(f"{arg_name(runs, j, names)}={fmt_arg(a)}" for j, a in enumerate(args))
    return "/".join(fmt_arg(a) for a in args)


def plot_bar(options: argparse.Namespace, runs: list[Run], baselines: list[Run], files: list[str],
             subtitle: str) -> str:
    names = options.arg_names
    lower_better = is_time(options.metric) or options.lower_is_better
    # Groups: argument tuples, in file order; bars: families, in file order.
    groups: list[tuple[int, ...]] = []
    for run in runs:
        if tuple(run.args) not in groups:
            groups.append(tuple(run.args))
    labels = family_labels(runs, files, options.label)

    base_of: dict[tuple[int, tuple[int, ...]], Run] = {}
    for b in baselines:
        key = (b.file_index, tuple(b.args))
        if key in base_of and base_of[key].family != b.family:
            raise InputError(f"--baseline matches several benchmarks with the same arguments: "
                             f"{base_of[key].run_name}, {b.run_name}")
        base_of[key] = b
    baseline_name = ", ".join(dict.fromkeys(b.family for b in baselines))

    values: dict[tuple[str, tuple[int, ...]], float] = {}
    for run in runs:
        value = run.value
        if options.baseline:
            base = base_of.get((run.file_index, tuple(run.args)))
            if base is None:
                warn(f"{run.run_name}: no baseline with the same arguments in "
                     f"{files[run.file_index]}; left out")
                continue
            if value == 0 or base.value == 0:
                warn(f"{run.run_name}: a zero value, no ratio; left out")
                continue
            value = base.value / value if lower_better else value / base.value
        values[(labels[(run.file_index, run.family)], tuple(run.args))] = value
    if not values:
        raise InputError("nothing to plot: no selected benchmark has a baseline with the same "
                         "arguments")
    bar_labels = list(dict.fromkeys(label for label, _ in values))

    if options.baseline:
        unit = Unit(1.0, "×")
        ylabel = options.ylabel or f"× {baseline_name}"
        how = "baseline time / time" if lower_better else "value / baseline value"
        title = options.title or f"{options.metric}: ratio to {baseline_name} ({how})"
    else:
        unit = pick_unit(options.metric, list(values.values()))
        ylabel = options.ylabel or metric_label(options.metric, unit)
        title = options.title or options.metric
    plotted = {k: v / unit.scale for k, v in values.items()}

    legend = bar_labels + ([f"{baseline_name} = 1"] if options.baseline else [])
    suffix = "×" if options.baseline else ""
    # Wide enough that group labels and the values over the bars do not run into each other.
    group_label = max(text_width(shape_label(list(g), runs, names), 11) for g in groups) + 16
    value_label = max(text_width(fmt_number(v) + suffix, 10) for v in plotted.values()) + 6
    frame = layout(options.width, options.height, legend, title, subtitle,
                   min_plot_width=len(groups) * max(group_label,
                                                    len(bar_labels) * value_label / 0.8))
    frame.log_y = options.log_y
    axis_values = list(plotted.values()) + ([1.0] if options.baseline else [])
    frame.y_lo, frame.y_hi, frame.y_ticks = y_axis(axis_values, options.log_y, True,
                                                   options.ymin, options.ymax)
    # Bars rise from 0 on a linear axis; on a log axis, from 1 for ratios (so a slower-than-
    # baseline bar points down) and from the bottom of the axis otherwise.
    anchor = 0.0 if not options.log_y else (1.0 if options.baseline else frame.y_lo)

    svg = start_svg(frame, title, subtitle)
    svg.add(hatch_defs(len(bar_labels)))
    svg.add(clip_to(frame))
    draw_y_axis(svg, frame, ylabel)
    group_width = (frame.right - frame.left) / len(groups)
    bar_width = min(42.0, group_width * 0.8 / len(bar_labels))
    for g, args in enumerate(groups):
        centre = frame.left + group_width * (g + 0.5)
        svg.text(centre, frame.bottom + 16, shape_label(list(args), runs, names), "k", "middle")
        present = [b for b in bar_labels if (b, args) in plotted]
        for j, label in enumerate(present):
            i = bar_labels.index(label)
            v = plotted[(label, args)]
            x = centre - bar_width * len(present) / 2 + j * bar_width
            y0, y1 = frame.y(anchor), frame.y(v)
            top, h = min(y0, y1), abs(y1 - y0)
            svg.add(f'<rect x="{x + 1:.1f}" y="{top:.1f}" width="{bar_width - 2:.1f}" '
                    f'height="{h:.1f}" fill="{bar_fill(i)}" stroke="#333" stroke-width="0.6" '
                    'clip-path="url(#plot)"/>')
            if frame.top <= y1 <= frame.bottom:  # the value, unless --ymin/--ymax cut the bar
                text = fmt_number(v) + suffix
                svg.text(x + bar_width / 2, (y1 - 4) if y1 <= y0 else (y1 + 12), text, "v",
                         "middle")
    if options.baseline:
        y = frame.y(1.0)
        svg.add(f'<path d="M{frame.left:.1f} {y:.1f}H{frame.right:.1f}" {BASELINE_STROKE}/>')
    if options.xlabel:
        svg.text((frame.left + frame.right) / 2, frame.bottom + 36, options.xlabel, "a", "middle")
    svg.add(f'<rect class="f" x="{frame.left:.1f}" y="{frame.top:.1f}" '
            f'width="{frame.right - frame.left:.1f}" height="{frame.bottom - frame.top:.1f}"/>')
    draw_legend(svg, frame, bar_labels, line=False,
                baseline=f"{baseline_name} = 1" if options.baseline else "")
    svg.add("</svg>")

    print(f"{'bar':40} {'arguments':>20} {ylabel if not options.baseline else 'ratio':>24}")
    for (label, args), v in plotted.items():
        print(f"{label:40} {shape_label(list(args), runs, names) or '-':>20} {fmt_number(v):>24}")
    return "\n".join(svg.parts) + "\n"


# ---- command line -----------------------------------------------------------------------------

def compile_pattern(flag: str, text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as e:
        raise InputError(f"{flag} '{text}' is not a valid regular expression: {e}") from None


def parse_args(argv: list[str]) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("files", nargs="+", metavar="FILE.json",
                        help="Google Benchmark output (--benchmark_out_format=json)")
    common.add_argument("-o", "--output", required=True, metavar="OUT.svg", help="SVG to write")
    common.add_argument("--filter", default="", metavar="REGEX",
                        help="plot the benchmarks whose name matches (Python re.search; "
                             "default: all)")
    common.add_argument("--metric", default="real_time",
                        help="real_time (default), cpu_time, or a counter: bytes_per_second, "
                             "items_per_second, any user counter")
    common.add_argument("--aggregate", default="median", choices=["median", "mean", "min", "max"],
                        help="how repetitions become one value (default median; min and max "
                             "are computed from the repetitions)")
    common.add_argument("--arg-names", default=[], type=lambda s: s.split(","), metavar="A,B,..",
                        help="names for the arguments, in order (axis and group labels)")
    common.add_argument("--label", action="append", default=[], metavar="FAMILY=TEXT",
                        help="legend text for a family (repeatable)")
    common.add_argument("--title", help="title (default: from the metric)")
    common.add_argument("--subtitle",
                        help="line under the title (default: date, CPUs, repetitions from the "
                             "JSON context; '' for none)")
    common.add_argument("--xlabel", help="x-axis label")
    common.add_argument("--ylabel", help="y-axis label (default: the metric and its unit)")
    common.add_argument("--log-y", action="store_true", help="logarithmic y axis")
    common.add_argument("--ymin", type=float, help="y-axis lower limit")
    common.add_argument("--ymax", type=float, help="y-axis upper limit")
    common.add_argument("--width", type=float, default=720, help="picture width (default 720)")
    common.add_argument("--height", type=float, default=420, help="picture height (default 420)")

    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        prog="bench_plot.py", description=doc.split("\n\n")[0],
        epilog="\n\n".join(doc.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True, metavar="{line,bar}")
    line = modes.add_parser("line", parents=[common], help="a metric against one argument",
                            description="One line per family: the metric against argument --arg.")
    line.add_argument("--arg", default="0", metavar="INDEX|NAME",
                      help="the argument on the x axis: 0-based index or name (default 0)")
    line.add_argument("--log-x", action="store_true", help="logarithmic x axis")
    bar = modes.add_parser("bar", parents=[common], help="a metric, or its ratio to a baseline, "
                           "per family and arguments",
                           description="Bars per family, grouped by arguments. With --baseline, "
                           "ratios to the baseline run with the same arguments in the same file.")
    bar.add_argument("--baseline", metavar="REGEX",
                     help="the baseline benchmark (matched like --filter; no bar of its own)")
    bar.add_argument("--lower-is-better", action="store_true",
                     help="for a counter that is a time (us_per_decision): "
                          "ratio = baseline / value")
    options = parser.parse_args(argv)
    relabel = {}
    for item in options.label:
        family, sep, text = item.partition("=")
        if not sep:
            parser.error(f"--label '{item}': expected FAMILY=TEXT")
        relabel[family] = text
    options.label = relabel
    return options


def select(options: argparse.Namespace, docs: list[dict]) -> tuple[list[Run], list[Run]]:
    """The runs --filter selects and the runs --baseline selects, one value each; an InputError
    that says why when either is empty."""
    pattern = compile_pattern("--filter", options.filter)
    baseline = compile_pattern("--baseline", options.baseline) \
        if getattr(options, "baseline", None) else None

    def is_baseline(name: str) -> bool:
        return baseline is not None and baseline.search(name) is not None

    def is_selected(name: str) -> bool:
        return pattern.search(name) is not None and not is_baseline(name)

    runs: list[Run] = []
    base_runs: list[Run] = []
    seen: set[str] = set()
    matched_selected, matched_baseline = False, False
    for i, (path, doc) in enumerate(zip(options.files, docs)):
        found, matched, metrics = reduce_runs(
            doc, i, path, lambda n: is_selected(n) or is_baseline(n), options.metric,
            options.aggregate)
        runs += [r for r in found if is_selected(r.run_name)]
        base_runs += [r for r in found if is_baseline(r.run_name)]
        matched_selected |= any(is_selected(n) for n in matched)
        matched_baseline |= any(is_baseline(n) for n in matched)
        seen |= metrics

    families = ", ".join(dict.fromkeys(
        parse_name(e.get("run_name", e.get("name", "")))[0]
        for d in docs for e in d["benchmarks"] if isinstance(e, dict)))
    if not matched_selected:
        raise InputError(f"--filter '{options.filter}' selects no benchmark"
                         f"{' besides the baseline' if baseline else ''}; the files have: "
                         f"{families or 'none'}")
    if baseline is not None and not matched_baseline:
        raise InputError(f"--baseline '{options.baseline}' selects no benchmark; the files "
                         f"have: {families}")
    if not runs or (baseline is not None and not base_runs):
        if not seen:
            raise InputError("every benchmark selected reported an error (error_occurred)")
        numeric = sorted(seen - {"family_index", "per_family_instance_index", "repetitions",
                                 "repetition_index", "threads", "iterations"})
        raise InputError(f"no {'baseline' if runs else 'selected'} benchmark has the metric "
                         f"'{options.metric}'; the runs selected have: {', '.join(numeric)}")
    return runs, base_runs


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    try:
        docs = [load(f) for f in options.files]
        runs, base_runs = select(options, docs)
        subtitle = options.subtitle if options.subtitle is not None else \
            describe_context(docs, options.aggregate)
        if options.mode == "line":
            svg = plot_line(options, runs, options.files, subtitle)
        else:
            svg = plot_bar(options, runs, base_runs, options.files, subtitle)
        try:
            Path(options.output).write_text(svg, encoding="utf-8")
        except OSError as e:
            raise InputError(f"{options.output}: cannot write: {e.strerror}") from None
    except InputError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
