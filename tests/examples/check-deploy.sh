#!/usr/bin/env bash
# Runs check_deploy.py with a Python 3 that has PyYAML (Debian: python3-yaml, which
# ./dev deps installs). usage: check-deploy.sh [SOURCE_ROOT]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${1:-${MESH_SOURCE_ROOT:-$here/../..}}
for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import yaml' 2>/dev/null; then
        exec "$py" "$here/check_deploy.py" "$root"
    fi
done
echo "check-deploy: no python3 with the yaml module; install python3-yaml (./dev deps)" >&2
exit 1
