# Production-mode environment for the bench server, publisher and setup.
# HUBBENCH_DATABASE_URL / HUBBENCH_REDIS_URL point a second bench server elsewhere.
export DATABASE_URL=${HUBBENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/hubbench}
export REDIS_URL=${HUBBENCH_REDIS_URL:-redis://127.0.0.1:6379/5}
export SECRET_KEY=bench-secret
export DEBUG=false
export SECURE_SSL_REDIRECT=false
export ALLOWED_HOSTS=127.0.0.1,localhost
export PAYMENTS_DEV_ALLOWED=true  # the dev payments backend; no Stripe key here
# Metrics as under `serve`: every process writes into one directory (emptied by server.sh start).
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-/tmp/hubbench-metrics}
