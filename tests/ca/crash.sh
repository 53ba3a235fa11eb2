#!/usr/bin/env bash
# Crash safety: SIGKILL at every write step of init (a test hook in files.c), then check that
# every file is whole and that a re-run of init converges to a verified, consistent mesh.
. "$(dirname "$0")/lib.sh"

consistent() { # dir: every present file parses; a pair that differs is recoverable
    local d=$1 s cp kp
    for s in "$d"/*/; do
        s=${s%/}
        cp= kp=
        if [[ -f $s/cert.pem ]]; then cp=$(cert_pub "$s/cert.pem") || fail "$s/cert.pem torn"; fi
        if [[ -f $s/key.pem ]]; then
            kp=$(key_pub "$s/key.pem") || fail "$s/key.pem torn"
            [[ $(mode_of "$s/key.pem") == 600 ]] || fail "$s/key.pem mode"
        fi
        if [[ -n $cp && -n $kp && $cp != "$kp" && ! -f $s/cert.pem.new ]]; then
            fail "$s: key and cert differ and nothing to recover"
        fi
    done
    [[ ! -f $d/index.json ]] || python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$d/index.json" ||
        fail "index.json torn"
}

# `check` exit 0 means: every pair matches, chains to the CA, is not revoked or expired. One
# service is also verified independently with openssl each time.
converges() { # dir template
    expect 0 init --template "$2" --dir "$1"
    expect 0 check --dir "$1"
    verify_service "$1" gateway
    [[ $(cert_pub "$1/gateway/cert.pem") == $(key_pub "$1/gateway/key.pem") ]] || fail "$1 pair"
    ls "$1"/*.new "$1"/*/*.new "$1"/.*.tmp.* "$1"/*/.*.tmp.* 2>/dev/null && fail "leftovers in $1"
    expect 0 init --template "$2" --dir "$1"
    ! grep -qE '^  (created|reissued|replaced) ' out || fail "third init still changed things"
}

# count the write steps of a full init
steps=0
for n in $(seq 1 200); do
    rm -rf probe
    rc=0
    MESH_CA_TEST_CRASH_AFTER=$n "$MESH_CA" init --template "$TEMPLATE" --dir probe >/dev/null 2>&1 || rc=$?
    if [[ $rc == 0 ]]; then steps=$((n - 1)); break; fi
    [[ $rc == 137 ]] || fail "crash hook at step $n: exit $rc"
    consistent probe
    converges probe "$TEMPLATE"
done
(( steps > 40 )) || fail "only $steps write steps?"
ok "SIGKILL at each of $steps write steps of a fresh init: whole files, re-run converges"

# the same during --force over an existing mesh (old or new pair, never a mix that stays)
expect 0 init --template "$TEMPLATE" --dir base
for n in 3 7 12 20 26 33 41; do
    rm -rf f && cp -a base f
    rc=0
    MESH_CA_TEST_CRASH_AFTER=$n "$MESH_CA" init --template "$TEMPLATE" --dir f --force >/dev/null 2>&1 || rc=$?
    [[ $rc == 137 ]] || fail "--force crash at $n: exit $rc"
    consistent f
    [[ $(sha256sum <f/ca.pem) == $(sha256sum <base/ca.pem) ]] || fail "CA changed"
    converges f "$TEMPLATE"
done
ok "SIGKILL during init --force: re-run converges, CA untouched"

# and from outside: SIGKILL at random moments of a long `issue` run, then init converges
expect 0 init --template "$TEMPLATE" --dir ext
for i in 1 2 3 4 5; do
    "$MESH_CA" issue $(seq -f "r$i-%g" 1 60) --dir ext >/dev/null 2>&1 &
    pid=$!
    sleep "0.0$((RANDOM % 9 + 1))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    consistent ext
    converges ext "$TEMPLATE"
done
for s in $SERVICES; do verify_service ext "$s"; done
ok "SIGKILL at random moments of issue: every issued service verifies after init"
