#!/usr/bin/env bash
# postStartCommand of .devcontainer/*/devcontainer.json: MLflow and serving on this (the workspace)
# container's own localhost:5000 and :8080. Codespaces forwards only the workspace container's ports:
# it does not implement forwardPorts' "service:port" form (devcontainers/spec#112,
# vscode-remote-release#4645), so `"forwardPorts": [5000, 8080]` needs something listening here; VS
# Code then forwards the same ports too. socat (in the training image's dev target) relays each port to
# its service on the Compose network; it runs until the container stops, and a second start of the
# container starts it again (a port already served is left alone).
set -euo pipefail

for pair in 5000=mlflow:5000 8080=serving:8080; do
  port="${pair%%=*}"
  target="${pair#*=}"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "forward-ports: 127.0.0.1:$port is served already"
    continue
  fi
  setsid nohup socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "TCP:$target" >/dev/null 2>&1 </dev/null &
  echo "forward-ports: 127.0.0.1:$port -> $target"
done
