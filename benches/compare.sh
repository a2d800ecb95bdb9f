#!/usr/bin/env bash
# Issue #5 measurement harness: tower-kms vs aws-sdk-kms vs a bare SigV4 "floor"
# client, all against one canned KMS server on 127.0.0.1.
#
#   bash benches/compare.sh            # full: 5 rounds, c=1/64/256, build time + crate counts
#   bash benches/compare.sh --quick    # quick: 5 rounds, c=1/64, no build-time section (< 2 min once built)
#   bash benches/compare.sh --no-build-time   # full mode without the cold-build section
#
# Environment: CARGO_BUILD_JOBS (passed through to cargo; the build-time figures use it),
# ROUNDS, N_C1, N_C64, N_C256, WARMUP override the defaults below.
# The last line of the output is always:
#   ratios: cpu_per_call tower-kms/aws-sdk-kms=X.XX tower-kms/floor=Y.YY throughput_c64 tower-kms/aws-sdk-kms=Z.ZZ
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
COMPARE=$ROOT/benches/compare
BIN=$COMPARE/target/release

QUICK=0
BUILD_TIME=1
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1; BUILD_TIME=0 ;;
        --no-build-time) BUILD_TIME=0 ;;
        -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if (( QUICK )); then
    : "${ROUNDS:=5}" "${N_C1:=15000}" "${N_C64:=30000}" "${WARMUP:=1000}"
    CONCURRENCIES=(1 64)
else
    : "${ROUNDS:=5}" "${N_C1:=20000}" "${N_C64:=50000}" "${N_C256:=100000}" "${WARMUP:=1000}"
    CONCURRENCIES=(1 64 256)
fi
CLIENTS=(tower-kms aws-sdk-kms floor)
declare -A EXE=([tower-kms]=client-tower-kms [aws-sdk-kms]=client-aws-sdk [floor]=client-floor)

echo "== building benches/compare (release)" >&2
(cd "$COMPARE" && cargo build --release --bins --quiet)

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$BIN/canned-server" 0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 100); do
    grep -q '^PORT ' "$WORK/server.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "canned-server died:" >&2; cat "$WORK/server.err" >&2; exit 1; }
    sleep 0.05
done
PORT=$(awk '/^PORT /{print $2}' "$WORK/server.out")
[[ -n $PORT ]] || { echo "canned-server printed no port" >&2; exit 1; }
URL=http://127.0.0.1:$PORT
echo "== canned server on $URL (pid $SERVER_PID); rounds=$ROUNDS warmup=$WARMUP" >&2

RESULTS=$WORK/results
: >"$RESULTS"
for c in "${CONCURRENCIES[@]}"; do
    case $c in 1) n=$N_C1 ;; 64) n=$N_C64 ;; *) n=$N_C256 ;; esac
    for round in $(seq "$ROUNDS"); do
        for client in "${CLIENTS[@]}"; do   # alternate A B C A B C ...
            if ! line=$("$BIN/${EXE[$client]}" "$URL" "$n" "$c" "$WARMUP" | grep '^RESULT '); then
                echo "client $client failed (c=$c round=$round)" >&2
                exit 1
            fi
            echo "$line" >>"$RESULTS"
            echo "   round $round: $line" >&2
        done
    done
done

# median of the values of field $3 for client $1 at concurrency $2
median() {
    awk -v cl="$1" -v c="$2" -v f="$3" '
        { for (i = 2; i <= NF; i++) { split($i, kv, "="); m[kv[1]] = kv[2] } }
        m["client"] == cl && m["c"] == c { print m[f] }' "$RESULTS" |
        sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

echo
echo "medians of $ROUNDS rounds (current-thread tokio runtime in every client; server: multi-thread, separate process)"
printf '%-12s %5s %8s %14s %12s %12s\n' client c n cpu_us/call calls/s maxrss_KiB
for c in "${CONCURRENCIES[@]}"; do
    for client in "${CLIENTS[@]}"; do
        n=$(awk -v cl="$client" -v c="$c" '$0 ~ "client="cl" " && $0 ~ " c="c" " { for (i=2;i<=NF;i++) if ($i ~ /^n=/) { sub("n=","",$i); print $i; exit } }' "$RESULTS")
        printf '%-12s %5s %8s %14.2f %12.0f %12.0f\n' "$client" "$c" "$n" \
            "$(median "$client" "$c" cpu_us_per_call)" "$(median "$client" "$c" calls_per_s)" "$(median "$client" "$c" maxrss_kib)"
    done
done

if (( BUILD_TIME )); then
    echo
    echo "cold 'cargo build --release' of a minimal binary using each client (CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-default}, crates already downloaded)"
    BT=$COMPARE/target/buildtime
    mkdir -p "$BT/tower-kms/src" "$BT/aws-sdk-kms/src"
    cat >"$BT/tower-kms/Cargo.toml" <<TOML
[package]
name = "bt-tower-kms"
version = "0.0.0"
edition = "2024"
[workspace]
[dependencies]
tower-kms = { path = "$ROOT" }
TOML
    echo 'fn main() { let c = tower_kms::KmsClient::builder().region("us-east-1").build(); println!("{}", c.is_ok()); }' >"$BT/tower-kms/src/main.rs"
    cat >"$BT/aws-sdk-kms/Cargo.toml" <<TOML
[package]
name = "bt-aws-sdk-kms"
version = "0.0.0"
edition = "2024"
[workspace]
[dependencies]
aws-sdk-kms = "=$(awk '/^name = "aws-sdk-kms"/{getline; gsub(/[^0-9.]/, ""); print; exit}' "$COMPARE/Cargo.lock")"
TOML
    echo 'fn main() { let c = aws_sdk_kms::Config::builder().behavior_version(aws_sdk_kms::config::BehaviorVersion::latest()).region(aws_sdk_kms::config::Region::new("us-east-1")).build(); println!("{:?}", c.region()); }' >"$BT/aws-sdk-kms/src/main.rs"
    printf '%-12s %10s %14s %18s\n' peer build_s crates_normal crates_normal+build
    for peer in tower-kms aws-sdk-kms; do
        dir=$BT/$peer
        rm -rf "$dir/target"
        (cd "$dir" && cargo generate-lockfile --quiet 2>/dev/null || true)
        t0=$(date +%s.%N)
        (cd "$dir" && cargo build --release --quiet)
        t1=$(date +%s.%N)
        count() { (cd "$dir" && cargo tree -e "$1" --prefix none | sed 's/ (\*)$//; s/ (proc-macro)$//' | sort -u | wc -l); }
        # minus one: the binary itself
        printf '%-12s %10.1f %14d %18d\n' "$peer" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" $(( $(count normal) - 1 )) $(( $(count normal,build) - 1 ))
        rm -rf "$dir/target"
    done
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
CPU_T=$(median tower-kms 1 cpu_us_per_call)
CPU_A=$(median aws-sdk-kms 1 cpu_us_per_call)
CPU_F=$(median floor 1 cpu_us_per_call)
TP_T=$(median tower-kms 64 calls_per_s)
TP_A=$(median aws-sdk-kms 64 calls_per_s)
echo
echo "ratios: cpu_per_call tower-kms/aws-sdk-kms=$(ratio "$CPU_T" "$CPU_A") tower-kms/floor=$(ratio "$CPU_T" "$CPU_F") throughput_c64 tower-kms/aws-sdk-kms=$(ratio "$TP_T" "$TP_A")"
