#!/usr/bin/env bash
# Start (or stop) the bench server: daphne in production mode on 127.0.0.1:8100,
# against database hubbench and Redis db 5. Usage: bench/server.sh start|stop
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/env.sh
PIDFILE=/tmp/hubbench-daphne.pid
case "${1:-start}" in
  start)
    ulimit -n "$(ulimit -Hn)"  # 65536 where allowed; this machine's hard limit is 20000
    .venv/bin/python manage.py migrate --verbosity 0
    rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    nohup .venv/bin/python -m daphne --bind 127.0.0.1 --port 8100 \
      --websocket-max-message-size 1048576 config.asgi:application \
      >/tmp/hubbench-daphne.log 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 50); do
      if (echo >/dev/tcp/127.0.0.1/8100) 2>/dev/null; then break; fi
      sleep 0.2
    done
    echo "daphne pid $(cat "$PIDFILE") on 127.0.0.1:8100 (log /tmp/hubbench-daphne.log)"
    ;;
  stop)
    kill "$(cat "$PIDFILE")" && rm -f "$PIDFILE"
    ;;
esac
