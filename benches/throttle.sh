#!/usr/bin/env bash
# Issue #11 throttling benchmark: kms-reencrypt, with its defaults, against the
# standalone local KMS (kms-local) on 127.0.0.1 with a quota on cryptographic
# requests.
#
#   bash benches/throttle.sh [--records N] [--quota Q] [--quick]
#
# Defaults: N=100000 records, Q=2000 requests/s. --quick: N=5000, Q=1000 unless
# given (about half a minute once built). Three scenarios, each against a fresh
# local KMS (so its summary line counts that scenario only):
#   1. one process over N records, crypto quota Q;
#   2. four processes at once over four disjoint quarters of the input, quota Q;
#   3. one process over N records without a quota (throughput, client CPU).
# Prints per scenario: goodput (ok records per second of the run), failures,
# throttled attempts of all attempts (the tool's summary) and the server's
# served/throttled counts. Needs bash, coreutils, awk and /usr/bin/time (GNU).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=
Q=
QUICK=0
while (($#)); do
    case $1 in
        --records) N=${2:?--records needs a number}; shift 2 ;;
        --quota) Q=${2:?--quota needs a number}; shift 2 ;;
        --quick) QUICK=1; shift ;;
        -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
if ((QUICK)); then
    : "${N:=5000}" "${Q:=1000}"
else
    : "${N:=100000}" "${Q:=2000}"
fi
[[ $N =~ ^[0-9]+$ && $N -ge 4 ]] || { echo "--records takes a whole number >= 4" >&2; exit 2; }
[[ $Q =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "--quota takes a number of requests per second" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time" >&2; exit 2; }

echo "== building kms-reencrypt and kms-local (release)" >&2
cargo build --release --quiet --features cli,kms-local --bin kms-reencrypt --bin kms-local
TOOL=$PWD/target/release/kms-reencrypt
SERVER=$PWD/target/release/kms-local

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_server QUOTA|none: a fresh (in-memory) kms-local on a free port that
# first writes N records under its demo key to $WORK/in.jsonl; sets URL and KEY.
start_server() {
    local quota=() log=$WORK/server.log
    [[ $1 != none ]] && quota=(--quota "crypto=$1")
    rm -f "$WORK/in.jsonl"
    "$SERVER" --listen 127.0.0.1:0 --quiet --write-records "$N:$WORK/in.jsonl" "${quota[@]}" \
        >"$log" 2>&1 &
    SERVER_PID=$!
    local waited=0
    until grep -q '^demo key ' "$log"; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null || ((waited > 6000)); then
            echo "the local KMS did not start:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    URL=$(sed -n 's/^local KMS at \(http[^ ]*\).*/\1/p' "$log")
    KEY=$(sed -n 's/^demo key //p' "$log")
}

# stop_server: Ctrl-C for the server; prints its summary line.
stop_server() {
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=
    grep '^summary:' "$WORK/server.log" | sed 's/^summary: /server: /'
}

# run_tool INPUT OUTPUT LOG: the tool with its defaults (the user's AWS_* and
# KMS_REENCRYPT_* settings do not apply), under /usr/bin/time.
run_tool() {
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
        AWS_ENDPOINT_URL_KMS="$URL" AWS_REGION=us-east-1 \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        /usr/bin/time -f 'CPU user %U sys %S' \
        "$TOOL" --input "$1" --output "$2" --destination-key-id "$KEY" 2>"$3"
}

# field LOG NAME: a number from the tool's summary (see its format in the README).
field() {
    local line
    line=$(grep '^kms-reencrypt: .* records in ' "$1" | tail -1)
    case $2 in
        ok) sed -n 's/.*this run: \([0-9]*\) ok.*/\1/p' <<<"$line" ;;
        failed) sed -n 's/.*this run: [0-9]* ok, \([0-9]*\) failed.*/\1/p' <<<"$line" ;;
        secs) sed -n 's/.* \([0-9.]*\) s, [0-9]* records\/s.*/\1/p' <<<"$line" ;;
        throttled) sed -n 's/.*throttled attempts \([0-9]*\) of.*/\1/p' <<<"$line" ;;
        attempts) sed -n 's/.*throttled attempts [0-9]* of \([0-9]*\).*/\1/p' <<<"$line" ;;
        rate) sed -n 's/.*throttled attempts [0-9]* of [0-9]*; \(.*\)$/\1/p' <<<"$line" ;;
        cpu) sed -n 's/^CPU user \([0-9.]*\) sys \([0-9.]*\)$/\1 \2/p' "$1" | tail -1 ;;
    esac
}

# check LOG STATUS: a run that did not end with 0 or 1 is a broken benchmark.
check() {
    if (($2 != 0 && $2 != 1)) || [[ -z $(field "$1" ok) ]]; then
        echo "kms-reencrypt exited $2:" >&2
        cat "$1" >&2
        exit 1
    fi
}

echo "throttle benchmark: $N records; kms-reencrypt defaults (adaptive retry mode, concurrency 64)"

# 1. One process, quota Q.
echo "== one process, crypto quota $Q/s" >&2
start_server "$Q"
status=0
run_tool "$WORK/in.jsonl" "$WORK/out1.jsonl" "$WORK/one.log" || status=$?
check "$WORK/one.log" "$status"
ok=$(field "$WORK/one.log" ok)
secs=$(field "$WORK/one.log" secs)
thr=$(field "$WORK/one.log" throttled)
att=$(field "$WORK/one.log" attempts)
awk -v q="$Q" -v ok="$ok" -v f="$(field "$WORK/one.log" failed)" -v s="$secs" -v t="$thr" -v a="$att" \
    -v r="$(field "$WORK/one.log" rate)" 'BEGIN {
    printf "one process, quota %s/s: goodput %.0f records/s (%d ok, %d failed in %.1f s); throttled attempts %d of %d (%.2f %%); %s\n",
        q, ok / s, ok, f, s, t, a, 100 * t / a, r }'
stop_server

# 2. Four processes over four disjoint quarters, quota Q.
echo "== four processes, crypto quota $Q/s" >&2
start_server "$Q"
split -n l/4 -d "$WORK/in.jsonl" "$WORK/part."
t0=$(date +%s.%N)
pids=()
for i in 0 1 2 3; do
    run_tool "$WORK/part.0$i" "$WORK/out4.$i.jsonl" "$WORK/four.$i.log" &
    pids+=($!)
done
for i in 0 1 2 3; do
    status=0
    wait "${pids[$i]}" || status=$?
    check "$WORK/four.$i.log" "$status"
done
t1=$(date +%s.%N)
{
    for i in 0 1 2 3; do
        log=$WORK/four.$i.log
        echo "$i $(field "$log" ok) $(field "$log" failed) $(field "$log" secs) $(field "$log" throttled) $(field "$log" attempts)"
    done
} | awk -v q="$Q" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" '
    { ok[$1] = $2; f[$1] = $3; s[$1] = $4; t[$1] = $5; a[$1] = $6
      tok += $2; tf += $3; tt += $5; ta += $6; g[$1] = $2 / $4; tg += $2 / $4 }
    END {
        printf "four processes, quota %s/s: total goodput %.0f records/s (%d ok, %d failed, %.1f s wall); throttled attempts %d of %d (%.2f %%)\n",
            q, tok / wall, tok, tf, wall, tt, ta, 100 * tt / ta
        for (i = 0; i < 4; i++)
            printf "  process %d: %d ok, %d failed in %.1f s: %.0f records/s, %.1f %% of the goodput; throttled attempts %d of %d\n",
                i + 1, ok[i], f[i], s[i], g[i], 100 * g[i] / tg, t[i], a[i]
    }'
stop_server

# 3. One process, no quota: throughput and client CPU per record.
echo "== one process, no quota" >&2
start_server none
status=0
run_tool "$WORK/in.jsonl" "$WORK/out0.jsonl" "$WORK/free.log" || status=$?
check "$WORK/free.log" "$status"
read -r user sys <<<"$(field "$WORK/free.log" cpu)"
awk -v ok="$(field "$WORK/free.log" ok)" -v f="$(field "$WORK/free.log" failed)" \
    -v s="$(field "$WORK/free.log" secs)" -v u="$user" -v y="$sys" -v n="$N" 'BEGIN {
    printf "no quota: %.0f records/s (%d ok, %d failed in %.1f s); client CPU %.1f us per record (user %.2f s + sys %.2f s)\n",
        ok / s, ok, f, s, 1e6 * (u + y) / n, u, y }'
stop_server
