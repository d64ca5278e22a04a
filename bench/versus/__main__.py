"""`make bench`: the hub, the Channels tutorial and python-socketio through the same scenarios.

    python -m bench.versus            # the full run (20-30 minutes on 2 cores)
    python -m bench.versus --smoke    # tiny sizes: proves every scenario works (~2 minutes)

Prints progress on stderr, then the table; writes bench/results/versus-<date>.json and
a PNG of chat latency against offered rate. Every server and client process it starts
is stopped at the end, on Ctrl-C and on errors.
"""

import argparse
import datetime
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from bench.versus import connections, fixtures, messaging, report, rest, servers
from bench.versus.stats import progress

TARGETS = ("hub", "channels", "socketio")
STARTERS = {"channels": servers.channels_server, "socketio": servers.socketio_server}


def sizes(smoke: bool) -> dict:
    if smoke:
        return dict(procs=2, chat_rates=[50, 100], chat_seconds=3, conversations=10,
                    fan_subscribers=100, fan_events=10, paced_events=3, drain_seconds=5,
                    idle=200, connect=100, storm=100, storm_cap=30, racers=10, slots=20,
                    two_process_rate=100)  # fmt: skip
    return dict(procs=3, chat_rates=[100, 250, 500, 1000], chat_seconds=10, conversations=100,
                fan_subscribers=1000, fan_events=50, paced_events=20, drain_seconds=20,
                idle=10000, connect=1000, storm=5000, storm_cap=150, racers=50, slots=200,
                two_process_rate=1000)  # fmt: skip


def attempt(rows: list[dict], scenario: str, target: str, call, *args) -> None:
    """Run one scenario; a failure is recorded in the results and the run goes on."""
    try:
        result = call(*args)
        rows.extend(result if isinstance(result, list) else [result])
    except Exception as exc:
        progress(f"{scenario} {target} FAILED: {exc!r}")
        traceback.print_exc()
        rows.append({"scenario": scenario, "target": target, "error": repr(exc)})


def run_target(target: str, size: dict, run: messaging.Run, rows: list[dict], wanted) -> None:
    servers.flush_redis()
    server = servers.hub_server(1) if target == "hub" else STARTERS[target]()
    progress(f"starting {server.name} on 127.0.0.1:{server.port}")
    server.start()
    try:
        if wanted("idle"):  # first: on a fresh server
            attempt(rows, "idle connections", target, connections.idle_memory, target, server,
                    size["idle"], run.procs)  # fmt: skip
            server.stop()
            servers.flush_redis()
            server.start()
        if wanted("connect"):
            attempt(rows, "connect rate", target, connections.connect_rate, target, server,
                    size["connect"], run.procs)  # fmt: skip
        if wanted("fanout"):
            attempt(rows, "fan-out", target, messaging.fanout, run, target, server)
        if wanted("chat"):
            for one in (True, False):
                attempt(rows, "chat", target, messaging.chat, run, target, server, one,
                        run.chat_rates)  # fmt: skip
        if target == "hub":
            if wanted("race"):
                attempt(rows, "booking race", target, rest.booking_race, server, size["racers"])
            if wanted("slots"):
                attempt(rows, "slots", target, rest.slots, server, size["slots"])
            if wanted("storm"):
                attempt(rows, "reconnect storm", target, connections.reconnect_storm, server,
                        size["storm"], run.procs, 5, size["storm_cap"])  # fmt: skip
    finally:
        server.stop()


def run_two_processes(size: dict, run: messaging.Run, rows: list[dict], wanted) -> None:
    servers.flush_redis()
    server = servers.hub_server(2)
    progress("starting the hub with 2 server processes")
    server.start()
    try:
        if wanted("fanout"):
            attempt(rows, "fan-out", "hub", messaging.fanout, run, "hub", server)
        if wanted("chat"):
            attempt(rows, "chat", "hub", messaging.chat, run, "hub", server, True,
                    [size["two_process_rate"]])  # fmt: skip
    finally:
        server.stop()


def interrupted(signum, frame) -> None:
    """SIGTERM stops the run as Ctrl-C does, through the same clean-up."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a minute or two")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--scenarios", default="idle,connect,fanout,chat,race,slots,storm,two")
    parser.add_argument("--out", default=str(servers.ROOT / "bench" / "results"))
    args = parser.parse_args()
    size = sizes(args.smoke)
    run = messaging.Run(
        smoke=args.smoke, procs=size["procs"], chat_rates=size["chat_rates"],
        chat_seconds=size["chat_seconds"], conversations=size["conversations"],
        fan_subscribers=size["fan_subscribers"], fan_events=size["fan_events"],
        paced_events=size["paced_events"], drain_seconds=size["drain_seconds"],
    )  # fmt: skip
    chosen = set(args.scenarios.split(","))

    def wanted(name: str) -> bool:
        return name in chosen

    signal.signal(signal.SIGTERM, interrupted)
    servers.raise_open_files_limit()
    started = datetime.datetime.now(datetime.UTC)
    meta = {
        "started": started.isoformat(timespec="seconds"), "smoke": args.smoke,
        "load_average_before": os.getloadavg(), "cpus": os.cpu_count(),
        "command": " ".join(["python -m bench.versus", *sys.argv[1:]]), "sizes": size,
        "python": sys.version.split()[0],
    }  # fmt: skip
    rows: list[dict] = []
    try:
        progress("preparing the hub's database " + servers.DATABASE)
        servers.prepare_hub_database()
        fixtures.django_ready()
        fixtures.fresh_tokens()
        for target in args.targets.split(","):
            run_target(target, size, run, rows, wanted)
        if "hub" in args.targets and wanted("two"):
            run_two_processes(size, run, rows, wanted)
    except KeyboardInterrupt:
        progress("interrupted: stopping every server")
        meta["interrupted"] = True
    finally:
        servers.stop_everything()
    meta["load_average_after"] = os.getloadavg()
    meta["minutes"] = round((datetime.datetime.now(datetime.UTC) - started).seconds / 60, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y-%m-%d-%H%M") + ("-smoke" if args.smoke else "")
    result = {"meta": meta, "rows": rows}
    json_path = out / f"versus-{stamp}.json"
    json_path.write_text(json.dumps(result, indent=1, default=str))
    png_path = out / f"versus-{stamp}.png"
    report.plot(result, png_path)
    print(report.markdown(result))
    progress(f"wrote {json_path} and {png_path}")
    if any("error" in row for row in rows) or meta.get("interrupted"):
        time.sleep(0.1)
        sys.exit(1)


if __name__ == "__main__":
    main()
