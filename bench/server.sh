#!/usr/bin/env bash
# Start (or stop) the bench server: daphne in production mode on 127.0.0.1:8100,
# against database hubbench and Redis db 5. Usage: bench/server.sh start|stop
# (HUBBENCH_PORT, HUBBENCH_PYTHON and bench/env.sh's HUBBENCH_* variables change those.)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/env.sh
PORT=${HUBBENCH_PORT:-8100}
PYTHON=${HUBBENCH_PYTHON:-.venv/bin/python}
PIDFILE=/tmp/hubbench-daphne${HUBBENCH_PORT:+-$HUBBENCH_PORT}.pid
LOG=/tmp/hubbench-daphne${HUBBENCH_PORT:+-$HUBBENCH_PORT}.log
case "${1:-start}" in
  start)
    ulimit -n "$(ulimit -Hn)"  # 65536 where allowed; this machine's hard limit is 20000
    "$PYTHON" manage.py migrate --verbosity 0
    rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    nohup "$PYTHON" -m daphne --bind 127.0.0.1 --port "$PORT" \
      --websocket-max-message-size 1048576 config.asgi:application \
      >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 50); do
      if (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then break; fi
      sleep 0.2
    done
    echo "daphne pid $(cat "$PIDFILE") on 127.0.0.1:$PORT (log $LOG)"
    ;;
  stop)
    kill "$(cat "$PIDFILE")" && rm -f "$PIDFILE"
    ;;
esac
