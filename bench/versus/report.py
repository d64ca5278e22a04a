"""Tables, ratios and the latency plot from a run's JSON; also rewrites docs/benchmarks.md.

    python -m bench.versus.report bench/results/versus-<date>.json            # print tables
    python -m bench.versus.report bench/results/versus-<date>.json --doc docs/benchmarks.md

With --doc, the part of the page between the `versus:begin` and `versus:end` markers is
replaced by this run's tables, and the plot is copied to docs/benchmarks-latency.png.
"""

import argparse
import json
import math
import shutil
from pathlib import Path

NAMES = {"hub": "the hub", "channels": "Channels tutorial", "socketio": "python-socketio"}
BEGIN, END = "<!-- versus:begin -->", "<!-- versus:end -->"


def _f(value, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(a, b) -> str:
    if not a or not b or math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.2f}x"


def _rows(result: dict, scenario: str, **match) -> list[dict]:
    return [r for r in result["rows"] if r.get("scenario") == scenario and "error" not in r
            and all(r.get(k) == v for k, v in match.items())]  # fmt: skip


def _one(result: dict, scenario: str, **match) -> dict:
    found = _rows(result, scenario, **match)
    return found[0] if found else {}


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(line) + " |" for line in lines]


def _who(row: dict) -> str:
    name = NAMES.get(row["target"], row["target"])
    return f"{name} ({row['processes']} processes)" if row.get("processes", 1) > 1 else name


def markdown(result: dict) -> str:
    meta = result["meta"]
    load = ", ".join(f"{x:.2f}" for x in meta["load_average_before"])
    out = [f"Run of {meta['started']} ({'smoke' if meta['smoke'] else 'full'}), "
           f"{meta.get('minutes', '?')} minutes, {meta['cpus']} CPUs, load average at the start "
           f"{load}; command: `{meta['command']}`.", ""]  # fmt: skip
    for later in meta.get("merged", []):
        again = ", ".join(f"{x:.2f}" for x in later["load_average_before"])
        out[-1:] = [f"Re-run alone on {later['started']} (load average {again}), its rows "
                    f"replacing the first run's: `{later['command']}`.", ""]  # fmt: skip

    idle = _rows(result, "idle connections")
    out += ["**Idle connections** (server RSS growth / connections; the hub's authenticated)", ""]
    out += _table(
        ["server", "connections", "KB each"],
        [[_who(r), _f(r["connections"]), _f(r["kb_per_connection"], 1)] for r in idle],
    )
    conn = _rows(result, "connect rate")
    out += ["", "**Connect rate** (open + authenticate + join a conversation; peers: no auth)", ""]
    out += _table(
        ["server", "connections/s", "handshake p50 / p99", "server CPU per connection",
         "server CPU", "generator CPU"],
        [[_who(r), _f(r["per_s"]), f"{_f(r['p50_ms'])} / {_f(r['p99_ms'])} ms",
          f"{_f(r['server_cpu_ms_per_connection'], 1)} ms", f"{_f(r['server_cpu_pct'])} %",
          f"{_f(r['generator_cpu_pct'])} %"] for r in conn])  # fmt: skip
    burst = _rows(result, "fan-out back-to-back")
    out += ["", "**Fan-out, back-to-back** (one room, messages published from outside the server)",
            ""]  # fmt: skip
    out += _table(
        ["server", "subscribers x messages", "delivered", "deliveries/s",
         "server CPU per delivery", "generator CPU per delivery"],
        [[_who(r), f"{r['subscribers']} x {r['events']}",
          f"{_f(r['delivered'])} (lost {r['lost']})", _f(r["deliveries_per_s"]),
          f"{_f(r['server_cpu_us_per_delivery'], 1)} us",
          f"{_f(r['generator_cpu_us_per_delivery'], 1)} us"] for r in burst])  # fmt: skip
    paced = _rows(result, "fan-out paced 1/s")
    out += ["", "**Fan-out, paced 1 message/s** (publish -> receipt)", ""]
    out += _table(
        ["server", "every delivery p50 / p99", "last subscriber p50 / p99",
         "server CPU per delivery"],
        [[_who(r), f"{_f(r['p50_ms'], 1)} / {_f(r['p99_ms'], 1)} ms",
          f"{_f(r['last_p50_ms'], 1)} / {_f(r['last_p99_ms'], 1)} ms",
          f"{_f(r['server_cpu_us_per_delivery'], 1)} us"] for r in paced])  # fmt: skip
    for scenario in ("chat, one instructor", "chat, one instructor each"):
        chat = _rows(result, scenario)
        count = chat[0].get("conversations", "?") if chat else 0
        out += ["", f"**{scenario.capitalize()}** ({count} conversations; latency: send -> the "
                "other member's receipt; delivered: of those offered)", ""]  # fmt: skip
        out += _table(
            ["server", "offered", "delivered", "p50 / p99", "echoes", "echo p50 / p99",
             "server CPU", "server CPU per delivery", "generator CPU"],
            [[_who(r), f"{r['offered_per_s']}/s x {_f(r['seconds'])} s",
              f"{_f(r['delivered'])} of {_f(r['sent'])}",
              f"{_f(r['p50_ms'], 1)} / {_f(r['p99_ms'], 1)} ms", _f(r["echoed"]),
              f"{_f(r['own_p50_ms'], 1)} / {_f(r['own_p99_ms'], 1)} ms",
              f"{_f(r['server_cpu_pct'])} %", f"{_f(r['server_cpu_us_per_delivery'])} us",
              f"{_f(r['generator_cpu_pct'])} %"] for r in chat])  # fmt: skip
    out += ["", "**The hub only** (the peers have no accounts, bookings or resume)", ""]
    lines = []
    if storm := _one(result, "reconnect storm"):
        lines.append(
            [
                "reconnect storm",
                f"{storm['clients']} clients, {storm['missed_events']} "
                f"events missed: {storm['resumed']} resumed "
                f"{_f(storm['seconds_from_ready'], 1)} s after the restarted server "
                f"answered ({_f(storm['seconds_from_stop'], 1)} s after the stop)",
            ]
        )
    if race := _one(result, "booking race"):
        lines.append(
            [
                "booking race",
                f"{race['students']} students: {race['statuses']}, "
                f"p50 {_f(race['p50_ms'])} ms, p99 {_f(race['p99_ms'])} ms",
            ]
        )
    if slots := _one(result, "slots, 60 days"):
        lines.append(["slots, 60 days", f"{slots['requests']} GETs: p50 {_f(slots['p50_ms'], 1)}"
                      f" ms, p99 {_f(slots['p99_ms'], 1)} ms"])  # fmt: skip
    out += _table(["scenario", "result"], lines)
    out += ["", "**Ratios**", "", *_table(["figure", "value"], ratios(result))]
    out += ["", "**Issue 14's targets**", "", *_table(["target", "measured", ""], targets(result))]
    errors = [r for r in result["rows"] if "error" in r]
    if errors:
        out += ["", "Failed: " + "; ".join(f"{r['scenario']} {r['target']}: {r['error']}"
                                           for r in errors)]  # fmt: skip
    return "\n".join(out)


def ratios(result: dict) -> list[list[str]]:
    lines = []
    hub = _one(result, "fan-out back-to-back", target="hub", processes=1)
    hub2 = _one(result, "fan-out back-to-back", target="hub", processes=2)
    for peer in ("socketio", "channels"):
        other = _one(result, "fan-out back-to-back", target=peer)
        if hub and other:
            lines.append(
                [
                    f"fan-out deliveries/s, hub / {NAMES[peer]}",
                    _ratio(hub["deliveries_per_s"], other["deliveries_per_s"]),
                ]
            )
            lines.append([f"fan-out server CPU per delivery, {NAMES[peer]} / hub",
                          _ratio(other["server_cpu_us_per_delivery"],
                                 hub["server_cpu_us_per_delivery"])])  # fmt: skip
        conn = _one(result, "connect rate", target=peer)
        hub_conn = _one(result, "connect rate", target="hub")
        if conn and hub_conn:
            lines.append(
                [f"connections/s, hub / {NAMES[peer]}", _ratio(hub_conn["per_s"], conn["per_s"])]
            )
        idle = _one(result, "idle connections", target=peer)
        hub_idle = _one(result, "idle connections", target="hub")
        if idle and hub_idle:
            lines.append(
                [
                    f"memory per idle connection, hub / {NAMES[peer]}",
                    _ratio(hub_idle["kb_per_connection"], idle["kb_per_connection"]),
                ]
            )
    if hub and hub2:
        lines.append(
            [
                "fan-out deliveries/s, 2 processes / 1",
                _ratio(hub2["deliveries_per_s"], hub["deliveries_per_s"]),
            ]
        )
    chat2 = _one(result, "chat, one instructor", target="hub", processes=2)
    if chat2:
        chat1 = _one(result, "chat, one instructor", target="hub", processes=1,
                     offered_per_s=chat2["offered_per_s"])  # fmt: skip
        if chat1:
            lines.append(
                [
                    f"chat delivered at {chat2['offered_per_s']}/s, 2 processes / 1",
                    _ratio(chat2["delivered"], chat1["delivered"]),
                ]
            )
    return lines


def _verdict(ok: bool, miss: str) -> str:
    return "met" if ok else f"missed: {miss}"


def targets(result: dict) -> list[list[str]]:
    """Issue 14's targets against this run: measured, and met or missed by how much."""
    lines = []
    for processes, rate, limit in ((1, 500, 100), (2, 1000, 250)):
        row = _one(result, "chat, one instructor", target="hub", processes=processes,
                   offered_per_s=rate)  # fmt: skip
        if row:
            lost = row["sent"] - row["delivered"]
            lines.append([
                f"chat, one instructor, {rate}/s, {processes} process(es): all delivered, "
                f"p99 < {limit} ms",
                f"{_f(row['delivered'])} of {_f(row['sent'])}, p99 {_f(row['p99_ms'])} ms",
                _verdict(lost == 0 and row["p99_ms"] < limit,
                         f"{_f(lost)} not delivered, p99 {row['p99_ms'] / limit:.1f}x the limit"),
            ])  # fmt: skip
    hub = _one(result, "fan-out back-to-back", target="hub", processes=1)
    for peer, want in (("socketio", 2.5), ("channels", 15.0)):
        other = _one(result, "fan-out back-to-back", target=peer)
        if hub and other and other["deliveries_per_s"]:
            got = hub["deliveries_per_s"] / other["deliveries_per_s"]
            lines.append(
                [
                    f"fan-out deliveries/s >= {want}x {NAMES[peer]}",
                    f"{got:.2f}x",
                    _verdict(got >= want, f"{got / want:.0%} of the target"),
                ]
            )
    other = _one(result, "fan-out back-to-back", target="socketio")
    if hub and other:
        got = other["server_cpu_us_per_delivery"] / hub["server_cpu_us_per_delivery"]
        lines.append(
            [
                "fan-out server CPU per delivery >= 3x better than python-socketio",
                f"{got:.2f}x",
                _verdict(got >= 3, f"{got / 3:.0%} of the target"),
            ]
        )
        lines.append(["fan-out: no loss", f"lost {hub['lost']}",
                      _verdict(hub["lost"] == 0, f"{hub['lost']} lost")])  # fmt: skip
    for name, value in ratios(result):
        if "2 processes / 1" in name and value != "-":
            got = float(value.rstrip("x"))
            lines.append([f"{name} >= 1.6", value, _verdict(got >= 1.6, f"{got / 1.6:.0%}")])
    if conn := _one(result, "connect rate", target="hub"):
        lines.append(
            [
                "connect (auth + subscribe) >= 500/s per process",
                _f(conn["per_s"]),
                _verdict(conn["per_s"] >= 500, f"{conn['per_s'] / 500:.0%} of it"),
            ]
        )
    if storm := _one(result, "reconnect storm"):
        took = storm["seconds_from_stop"]
        lines.append([f"reconnect storm of {storm['clients']} resumed within 20 s",
                      f"{storm['resumed']} resumed in {_f(took, 1)} s from the stop",
                      _verdict(storm["finished"] and took <= 20, f"{took / 20:.1f}x the time"
                               if storm["finished"] else "not all resumed")])  # fmt: skip
    if idle := _one(result, "idle connections", target="hub"):
        kb = idle["kb_per_connection"]
        lines.append(
            [
                f"{_f(idle['connections'])} idle authenticated connections <= 25 KB each",
                f"{kb:.1f} KB",
                _verdict(kb <= 25, f"{kb - 25:.1f} KB over"),
            ]
        )
    if race := _one(result, "booking race"):
        ok = race["winners"] == 1 and race["p99_ms"] < 500
        lines.append(
            [
                f"{race['students']} racing for one slot: one winner, p99 < 500 ms",
                f"{race['winners']} winner(s), p99 {_f(race['p99_ms'])} ms",
                _verdict(ok, f"p99 {race['p99_ms'] / 500:.1f}x the limit"),
            ]
        )
    return lines


def plot(result: dict, path: Path) -> None:
    """Chat latency (p50 solid, p99 dashed) against offered rate, one colour per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    colours = {"hub": "tab:blue", "channels": "tab:orange", "socketio": "tab:green"}
    for axis, scenario in zip(axes, ("chat, one instructor", "chat, one instructor each"),
                              strict=True):  # fmt: skip
        for target, colour in colours.items():
            for processes, marker in ((1, "o"), (2, "s")):
                rows = sorted(_rows(result, scenario, target=target, processes=processes),
                              key=lambda r: r["offered_per_s"])  # fmt: skip
                if not rows:
                    continue
                rates = [r["offered_per_s"] for r in rows]
                label = NAMES[target] + (" x2" if processes == 2 else "")
                axis.plot(rates, [r["p50_ms"] for r in rows], marker=marker, color=colour,
                          label=f"{label} p50")  # fmt: skip
                axis.plot(rates, [r["p99_ms"] for r in rows], marker=marker, color=colour,
                          linestyle="--", label=f"{label} p99")  # fmt: skip
        axis.set_title(scenario)
        axis.set_xlabel("offered messages/s")
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7)
    axes[0].set_ylabel("send -> other member, ms (log)")
    fig.suptitle(f"Chat latency against offered rate ({result['meta']['started'][:10]})")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def merge(result: dict, later: dict) -> None:
    """Take a later run's rows (a scenario re-run alone) in place of the same ones."""
    key = lambda row: (row.get("scenario"), row.get("target"), row.get("processes"))  # noqa: E731
    replaced = {key(row) for row in later["rows"]}
    # A failed row has no processes: drop every failure of a scenario the later run has.
    names = {(row.get("scenario"), row.get("target")) for row in later["rows"]}
    result["rows"] = [
        row
        for row in result["rows"]
        if key(row) not in replaced
        and not ("error" in row and (row["scenario"], row["target"]) in names)
    ]
    result["rows"] += later["rows"]
    result["meta"].setdefault("merged", []).append(
        {k: later["meta"][k] for k in ("started", "command", "load_average_before")}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path)
    parser.add_argument("--doc", type=Path, help="rewrite this page's generated part")
    parser.add_argument(
        "--merge",
        type=Path,
        action="append",
        default=[],
        help="a later run's JSON whose rows replace the same scenario's",
    )
    args = parser.parse_args()
    result = json.loads(args.json.read_text())
    for path in args.merge:
        merge(result, json.loads(path.read_text()))
        args.json.write_text(json.dumps(result, indent=1))
    tables = markdown(result)
    if not args.doc:
        print(tables)
        return
    page = args.doc.read_text()
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    args.doc.write_text(f"{head}{BEGIN}\n{tables}\n{END}{tail}")
    png = args.json.with_suffix(".png")
    if png.exists():
        shutil.copy(png, args.doc.parent / "benchmarks-latency.png")


if __name__ == "__main__":
    main()
