# Runs a door inside a root directory that holds nothing the door does not bring, and proves it
# serves: `/healthz`, then `GET /` with real data from Elasticsearch. Sourced by tests/static-root
# and tests/image/test, which build the roots.
#
# The door runs with chroot on this machine's network namespace, so it reaches Elasticsearch and
# is reached on loopback. Each root's /etc/hosts maps the name `elasticsearch` to 127.0.0.1, and
# the door is given HOST=elasticsearch:PORT: an answer with data proves that the static binary
# resolved that name without any file from the machine.

# Every process group started here is stopped on exit, whatever happens.
DOOR_PIDS=()
stop_doors() {
  local pid
  for pid in "${DOOR_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${DOOR_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  DOOR_PIDS=()
}

die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
pass() { printf 'PASS: %s\n' "$*"; }

# The Elasticsearch under test, from TEST_ES_URL or ES_URL; it must be on loopback.
es_port() {
  local url="${TEST_ES_URL:-${ES_URL:-}}"
  [[ -n "$url" ]] || die "set TEST_ES_URL (or ES_URL) to a running Elasticsearch, e.g. http://127.0.0.1:9200"
  [[ "$url" =~ ^http://(127\.0\.0\.1|localhost):([0-9]+)/?$ ]] ||
    die "TEST_ES_URL must be http://127.0.0.1:PORT, the loopback address the roots' /etc/hosts names; got $url"
  echo "${BASH_REMATCH[2]}"
}

# load_sample_day BIN_DIR ES_PORT: a day of observations ending now, the default query's window.
load_sample_day() {
  ES_URL="http://127.0.0.1:$2" "$1/wx-stats" load-sample --days 1 >/dev/null ||
    die "wx-stats load-sample into http://127.0.0.1:$2 failed"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# make_hosts ROOT: the only file a root gets besides the door itself.
make_hosts() {
  mkdir -p "$1/etc"
  printf '127.0.0.1\tlocalhost elasticsearch\n' >"$1/etc/hosts"
  chmod 0755 "$1" "$1/etc"
  chmod 0644 "$1/etc/hosts"
}

# start_in_root LOG ROOT UID:GID VAR=VALUE... -- COMMAND...: starts COMMAND inside ROOT as
# UID:GID with only the given environment, in its own process group; sets STARTED_PID.
start_in_root() {
  local log="$1" root="$2" user="$3" env=()
  shift 3
  while [[ "$1" != -- ]]; do env+=("$1"); shift; done
  shift
  # env -i leaves no PATH to find chroot by.
  setsid env -i "${env[@]}" "$(command -v chroot)" --userspec="$user" "$root" "$@" </dev/null >"$log" 2>&1 &
  STARTED_PID=$!
  DOOR_PIDS+=("$STARTED_PID")
}

# get URL OUT: the status code of GET URL; the body goes to OUT.
get() { curl -s -m 30 -o "$2" -w '%{http_code}' "$1" || echo 000; }

# wait_healthy LABEL URL PID LOG: 200 from URL within 10 s, while PID stays alive.
wait_healthy() {
  local label="$1" url="$2" pid="$3" log="$4" code
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$label exited before answering $url"; }
    code="$(get "$url" /dev/null)"
    [[ "$code" == 200 ]] && { pass "$label answers 200 on $url"; return; }
    sleep 0.1
  done
  cat "$log" >&2
  die "$label did not answer 200 on $url within 10 s (last status $code)"
}

# expect_user LABEL PID UID: the process runs as UID, as the platform would run it.
expect_user() {
  local uid
  uid="$(awk '/^Uid:/ { print $2 }' "/proc/$2/status")"
  [[ "$uid" == "$3" ]] || die "$1 runs as UID $uid, not $3"
  pass "$1 runs as UID $uid in a root holding only: $(cd "/proc/$2/root" && find . -type f | sort | paste -sd ' ')"
}

# expect_data LABEL URL LOG: GET URL answers 200 with Elasticsearch's histogram of the sample.
expect_data() {
  local label="$1" url="$2" log="$3" body code summary
  body="$(mktemp)"
  code="$(get "$url" "$body")"
  if [[ "$code" != 200 ]]; then
    cat "$log" >&2; head -c 500 "$body" >&2; echo >&2; rm -f "$body"
    die "$label: GET $url answered $code, not 200"
  fi
  summary="$(python3 - "$body" <<'PY'
import json, sys
answer = json.load(open(sys.argv[1]))
buckets = answer["aggregations"]["temps"]["buckets"]
observations = sum(b["doc_count"] for b in buckets)
assert observations > 0, f"no observations in {answer}"
print(f"{observations} observations in {len(buckets)} buckets")
PY
)" || { head -c 500 "$body" >&2; rm -f "$body"; die "$label: GET $url answered 200 without histogram data"; }
  rm -f "$body"
  pass "$label: GET $url answers 200 with $summary"
}

# stop_gracefully LABEL PID LOG: SIGTERM, then the door must drain and exit 0 within 10 s.
stop_gracefully() {
  local label="$1" pid="$2" log="$3" rc=0
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { cat "$log" >&2; die "$label did not exit within 10 s of SIGTERM"; }
  wait "$pid" || rc=$?
  ((rc == 0)) || { cat "$log" >&2; die "$label exited $rc after SIGTERM, not 0"; }
  pass "$label exits 0 on SIGTERM"
}

# check_http_door LABEL ROOT UID:GID PORT_VAR ES_PORT WORK [VAR=VALUE...] -- COMMAND...: the
# whole proof for a door that serves HTTP on $PORT_VAR, given HOST=elasticsearch:ES_PORT unless
# a VAR=VALUE sets HOST. As on a platform, the port set here wins over an image's own.
check_http_door() {
  local label="$1" root="$2" user="$3" port_var="$4" es="$5" work="$6" port log env=()
  shift 6
  while [[ "$1" != -- ]]; do env+=("$1"); shift; done
  port="$(free_port)"
  log="$work/$label.log"
  start_in_root "$log" "$root" "$user" "HOST=elasticsearch:$es" "${env[@]}" \
    "$port_var=$port" SHUTDOWN_GRACE=2s "$@"
  local pid="$STARTED_PID"
  wait_healthy "$label" "http://127.0.0.1:$port/healthz" "$pid" "$log"
  expect_user "$label" "$pid" "${user%%:*}"
  expect_data "$label" "http://127.0.0.1:$port/" "$log"
  stop_gracefully "$label" "$pid" "$log"
}
