#!/bin/bash
# Check the pods' exchange design on this machine, without Kubernetes: real nbgrader, run as
# three Unix users (an instructor, students alice and bob) with the uids and groups that
# course_start.py gives, on folders laid out by course_start.apply_layout.
#
# Usage (as root): deploy/k8s/check_exchange_locally.sh VENV
#   VENV: a venv every user can run, made as the Dockerfile does, e.g.
#     /usr/bin/python3 -m venv /tmp/k8s-image/venv
#     /tmp/k8s-image/venv/bin/pip install -r deploy/k8s/requirements.txt
#     /tmp/k8s-image/venv/bin/pip install --no-deps .
#
# Runs in a private mount namespace (unshare): /srv, /home, /etc/passwd and /etc/group are
# replaced there only, so the machine's own accounts and folders are never touched.
# Exits non-zero, naming the step, when an expectation fails.
set -euo pipefail

VENV=${1:?usage: $0 VENV}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "run as root (it acts as other uids with setpriv)" >&2; exit 2; fi
if [ -z "${K8S_CHECK_INSIDE:-}" ]; then
  exec env K8S_CHECK_INSIDE=1 unshare --mount --propagation private "$0" "$@"
fi

WORK=$(mktemp -d /tmp/k8s-check-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }

mount -t tmpfs tmpfs /srv
mount -t tmpfs tmpfs /home
cp /etc/passwd "$WORK/passwd"; cp /etc/group "$WORK/group"
printf '%s\n' "alice:x:200001:100::/home/alice:/bin/bash" "bob:x:200002:100::/home/bob:/bin/bash" \
  "teach:x:200003:100::/home/teach:/bin/bash" >> "$WORK/passwd"
echo "course-instructors:x:2000:" >> "$WORK/group"
mount --bind "$WORK/passwd" /etc/passwd
mount --bind "$WORK/group" /etc/group
for u in alice:200001 bob:200002 teach:200003; do
  mkdir -p "/home/${u%%:*}"; chown "${u##*:}:100" "/home/${u%%:*}"; chmod 700 "/home/${u%%:*}"
done

mkdir -p "$VENV/etc/jupyter"
cp "$REPO/deploy/k8s/nbgrader_config.py" "$VENV/etc/jupyter/nbgrader_config.py"
"$VENV/bin/python" -c "
import sys; sys.path.insert(0, '$REPO/deploy/k8s'); import course_start as cs
cs.apply_layout(cs.exchange_layout(cs.EXCHANGE, 'nnkit', 'student'))"
COURSE=/home/teach/course
mkdir -p "$COURSE/lessons" "$COURSE/autograder"
cp -r "$REPO/lessons/01_neurons" "$COURSE/lessons/"
cp "$REPO/nbgrader_config.py" "$COURSE/"
cp "$REPO/autograder/nbgrader_config.py" "$COURSE/autograder/"
chown -R 200003:2000 "$COURSE"

as() {  # as NAME UID GROUPS-OPTION COMMAND...
  local who=$1 uid=$2 groups=$3; shift 3
  (cd "/home/$who" && setpriv --reuid="$uid" --regid=100 "$groups" -- \
     env -i PATH="$VENV/bin:/usr/bin:/bin" HOME="/home/$who" USER="$who" "$@")
}
INBOUND=/srv/nbgrader/exchange/nnkit/inbound

(cd "$COURSE" && setpriv --reuid=200003 --regid=100 --groups=2000 -- env -i PATH="$VENV/bin:/usr/bin:/bin" \
  HOME=/home/teach USER=teach nbgrader release_assignment 01_neurons) >/dev/null 2>&1 \
  || fail "the instructor cannot release 01_neurons"
echo "ok: the instructor released 01_neurons"
as alice 200001 --clear-groups nbgrader fetch_assignment 01_neurons >/dev/null 2>&1 || fail "alice cannot fetch"
as alice 200001 --clear-groups nbgrader submit 01_neurons >/dev/null 2>&1 || fail "alice cannot submit"
echo "ok: alice fetched and submitted"
if as bob 200002 --clear-groups ls "$INBOUND" >/dev/null 2>&1; then fail "bob can list the submissions"; fi
echo "ok: bob cannot list the submissions (permission denied)"
if as bob 200002 --clear-groups mkdir /srv/nbgrader/exchange/nnkit/outbound/x 2>/dev/null; then
  fail "bob can write a release"
fi
echo "ok: bob cannot write a release"
if as bob 200002 --clear-groups ls /home/alice >/dev/null 2>&1; then fail "bob can read alice's home"; fi
echo "ok: bob cannot read alice's home"
as bob 200002 --clear-groups nbgrader fetch_assignment 01_neurons >/dev/null 2>&1 || fail "bob cannot fetch"
as bob 200002 --clear-groups JUPYTERHUB_USER=alice nbgrader submit 01_neurons >/dev/null 2>&1 \
  || fail "bob cannot submit"
names=$(cd "$INBOUND" && ls | cut -d+ -f1 | sort | tr '\n' ' ')
[ "$names" = "alice bob " ] || fail "submissions are named '$names', expected 'alice bob '"
echo "ok: bob's submission with JUPYTERHUB_USER=alice is filed as bob (nbgrader uses the Unix name)"
log=$(cd "$COURSE" && setpriv --reuid=200003 --regid=100 --groups=2000 -- env -i PATH="$VENV/bin:/usr/bin:/bin" \
  HOME=/home/teach USER=teach nbgrader collect 01_neurons 2>&1) || fail "the instructor cannot collect: $log"
if grep -qi "cheating" <<<"$log"; then fail "nbgrader collect warns: $log"; fi
[ "$(ls "$COURSE/submitted" | tr '\n' ' ')" = "alice bob " ] || fail "collected: $(ls "$COURSE/submitted")"
echo "ok: the instructor collected alice and bob, no owner warning"
echo "all checks passed"
