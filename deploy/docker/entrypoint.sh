#!/bin/sh
# Container entrypoint: fetch the default models if the image was built without them (or a
# volume mounted over models/ is empty), then replace this shell with the server so that it
# receives SIGTERM directly and shuts down gracefully.
set -eu
cd /app
if [ ! -s models/SmolLM2-135M-Instruct.Q4_1.gguf ]; then
  echo "entrypoint: models missing, running scripts/fetch-models.sh"
  scripts/fetch-models.sh
fi
# Inside a container the server must listen on every interface (config/server.json keeps the
# safe 127.0.0.1 for a workstation); `docker run ... <flags>` come after, so they override.
exec speculators serve --config "${SPECULATORS_CONFIG:-/app/config/server.json}" --host 0.0.0.0 --port 8000 "$@"
