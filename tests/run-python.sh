#!/usr/bin/env bash
# Runs a Python check script with a Python 3 that has PyYAML (Debian: python3-yaml, which
# ./dev deps installs). usage: run-python.sh SCRIPT [ARGS...]
set -euo pipefail
script=$1
shift
for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import yaml' 2>/dev/null; then
        exec "$py" "$script" "$@"
    fi
done
echo "$(basename "$script"): no python3 with the yaml module; install python3-yaml (./dev deps)" >&2
exit 1
