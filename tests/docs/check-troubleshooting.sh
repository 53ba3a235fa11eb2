#!/usr/bin/env bash
# docs/TROUBLESHOOTING.md must have an entry (a heading "### `name`" or "#### `name`") for
# every reason name in libmesh/error.c's table and every OAuth error the issuer answers
# (the contract's list, plus any error code issuer/*.c sends once the issuer is there).
# usage: check-troubleshooting.sh [SOURCE_ROOT]
set -euo pipefail
root=${1:-${MESH_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}}
doc=$root/docs/TROUBLESHOOTING.md
table=$root/libmesh/error.c
[[ -f $doc ]] || { echo "FAIL docs/TROUBLESHOOTING.md does not exist"; exit 1; }
[[ -f $table ]] || { echo "FAIL libmesh/error.c does not exist"; exit 1; }

# Rows look like: {MESH_ERR_EXPIRED, "token_expired", "token expired"},
mapfile -t names < <(grep -oE '^[[:space:]]*\{MESH_[A-Z0-9_]+, *"[a-z0-9_]+"' "$table" |
    sed -E 's/.*"([a-z0-9_]+)"$/\1/')
if ((${#names[@]} < 40)); then
    echo "FAIL found only ${#names[@]} reason names in libmesh/error.c: the table's format" \
        "changed; update tests/docs/check-troubleshooting.sh"
    exit 1
fi

# The issuer's OAuth errors (DESIGN.md), and whatever issuer/*.c sends.
oauth=(invalid_request invalid_client invalid_target invalid_scope access_denied
    unsupported_grant_type slow_down)
if compgen -G "$root/issuer/*.c" >/dev/null; then
    mapfile -t -O "${#oauth[@]}" oauth < <(cat "$root"/issuer/*.c |
        grep -oE '(resp_error\([^,]+, *[0-9]+, *|deny\([^,]+, *)"[a-z_]+"' |
        sed -E 's/.*"([a-z_]+)"$/\1/' | sort -u)
fi

headings=$(grep -E '^#{2,4} `[a-z0-9_]+`' "$doc" | sed -E 's/^#+ `([a-z0-9_]+)`.*/\1/')
missing=0
check() { # kind name
    if ! grep -qxF "$2" <<<"$headings"; then
        echo "FAIL docs/TROUBLESHOOTING.md has no entry for the $1 '$2':" \
            "add a heading \"### \`$2\`\" (or ####) saying what it means, the likely cause and the fix"
        missing=$((missing + 1))
    fi
}
for n in "${names[@]}"; do check "libmesh reason name" "$n"; done
mapfile -t oauth < <(printf '%s\n' "${oauth[@]}" | sort -u)
for n in "${oauth[@]}"; do check "issuer OAuth error" "$n"; done

if ((missing > 0)); then
    echo "$missing entr(y/ies) missing in docs/TROUBLESHOOTING.md"
    exit 1
fi
echo "docs/TROUBLESHOOTING.md covers all ${#names[@]} libmesh reason names and" \
    "${#oauth[@]} issuer OAuth errors"
