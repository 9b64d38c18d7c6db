"""How many students does one machine hold? A throwaway class hub under load (run as root).

    .venv/bin/python benchmarks/bench_hub.py --students 20

Sets up a trial hub (``deploy.hub.trial``: accounts ``nnktest-*``, loopback ports, removed
afterwards) with one instructor and N students and ``01_neurons`` released, then, all students
at once, as a class starting a lesson does:

1. each logs in through the hub's login form (PAM), gets an API token through the REST API and
   starts their server through it (``POST /hub/api/users/NAME/server``); start time = from
   that request until the hub reports the server ready;
2. memory of each idle student server (RSS, and PSS, which splits shared pages fairly);
3. each fetches ``01_neurons`` and submits it through nbgrader's Assignments handlers of their
   own server (what the Assignments tab's buttons call); latency of each request, failures
   (a non-200 answer or ``success: false``), and the number of submissions that reached the
   exchange (counted on disk);
4. each starts a kernel and runs every code cell of the lesson in it (answers are still stubs,
   so checks fail fast, as they do for a student who just started), then memory per student
   with that kernel alive.

Prints the figures; never asserts timings. The hub and every account are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pwd
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deploy.hub import system, trial  # noqa: E402
from deploy.hub.roster import Member  # noqa: E402
from deploy.hub.settings import load  # noqa: E402
from deploy.hub.setup import setup  # noqa: E402

LESSON = "01_neurons"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def memory_of(uid: int) -> tuple[float, float]:
    """(RSS, PSS) in MiB of all processes running as ``uid``."""
    return memory_of_pids(system.processes_of(uid))


def cpu_seconds_of(uid: int) -> float:
    """CPU time (user + system) used so far by the live processes of ``uid``."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in system.processes_of(uid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def memory_of_pids(pids: list[int]) -> tuple[float, float]:
    rss = pss = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        rss += int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))
        pss += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
    return rss / 1024, pss / 1024


class Student:
    def __init__(self, name: str, password: str, url: str, course: str):
        import requests

        self.name, self.password, self.url, self.course = name, password, url, course
        self.session = requests.Session()
        self.token = ""
        self.timings: dict[str, float] = {}
        self.failures: list[str] = []

    def _api(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"token {self.token}"}
        return self.session.request(method, f"{self.url}{path}", headers=headers, timeout=300,
                                    **kwargs)  # fmt: skip

    def log_in(self) -> None:
        """The login form, then an API token from the REST API."""
        self.session.get(f"{self.url}/hub/login", timeout=60)
        xsrf = self.session.cookies.get("_xsrf", "")
        r = self.session.post(
            f"{self.url}/hub/login?next=/hub/home",
            data={"username": self.name, "password": self.password, "_xsrf": xsrf},
            allow_redirects=False,
            timeout=60,
        )
        if r.status_code != 302:
            raise RuntimeError(f"login of {self.name}: HTTP {r.status_code}")
        r = self.session.post(
            f"{self.url}/hub/api/users/{self.name}/tokens",
            headers={"X-XSRFToken": self.session.cookies.get("_xsrf", xsrf)},
            json={"note": "bench_hub", "expires_in": 3600},
            timeout=60,
        )
        r.raise_for_status()
        self.token = r.json()["token"]

    def start_server(self) -> None:
        started = time.monotonic()
        r = self._api("POST", f"/hub/api/users/{self.name}/server")
        if r.status_code not in (201, 202):
            raise RuntimeError(f"server of {self.name}: HTTP {r.status_code} {r.text[:200]}")
        while True:
            info = self._api("GET", f"/hub/api/users/{self.name}").json()
            server = info.get("servers", {}).get("", {})
            if server.get("ready"):
                break
            if time.monotonic() - started > 300:
                raise RuntimeError(f"server of {self.name} not ready after 300 s")
            time.sleep(0.25)
        self.timings["start"] = time.monotonic() - started

    def action(self, action: str) -> None:
        started = time.monotonic()
        r = self._api(
            "POST",
            f"/user/{self.name}/assignments/{action}",
            data={"course_id": self.course, "assignment_id": LESSON},
        )
        self.timings[action] = time.monotonic() - started
        if r.status_code != 200 or not r.json().get("success"):
            self.failures.append(f"{action}: HTTP {r.status_code} {r.text[:300]}")

    def run_lesson_in_a_kernel(self, cells: list[str]) -> None:
        """Start a kernel through the server's API, run the lesson's code cells in it."""
        from jupyter_client import BlockingKernelClient

        r = self._api("POST", f"/user/{self.name}/api/kernels", json={"name": "python3"})
        r.raise_for_status()
        kernel_id = r.json()["id"]
        home = Path(f"/home/{self.name}")
        connection = home / ".local/share/jupyter/runtime" / f"kernel-{kernel_id}.json"
        deadline = time.monotonic() + 120
        while not connection.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        client.start_channels(hb=False)  # no heartbeat thread: one client per student
        try:
            client.wait_for_ready(timeout=120)
            started = time.monotonic()
            for source in cells:
                client.execute_interactive(source, timeout=300, output_hook=lambda _: None)
            self.timings["lesson"] = time.monotonic() - started
        finally:
            client.stop_channels()


def lesson_cells() -> list[str]:
    nb = json.loads((REPO / "lessons" / LESSON / f"{LESSON}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def all_at_once(students, fn) -> list[Exception]:
    barrier = threading.Barrier(len(students))

    def go(s):
        barrier.wait()
        try:
            fn(s)
            return None
        except Exception as exc:  # counted and printed, never hidden
            return exc

    with ThreadPoolExecutor(len(students)) as pool:
        return [e for e in pool.map(go, students) if e is not None]


def summary(label: str, values: list[float], unit: str = "s") -> str:
    return (
        f"{label:<38} p50 {percentile(values, 50):7.2f} {unit}   p95 {percentile(values, 95):7.2f}"
        f" {unit}   max {max(values):7.2f} {unit}   (n = {len(values)})"
    )


@dataclass
class Figures:
    students: list[Student]
    load_before: float = 0.0
    setup_s: float = 0.0
    idle: list[tuple[float, float]] = field(default_factory=list)
    busy: list[tuple[float, float]] = field(default_factory=list)
    start_cpu: list[float] = field(default_factory=list)
    lesson_cpu: list[float] = field(default_factory=list)
    hub: tuple[float, float] = (0.0, 0.0)
    submitted: int = 0
    errors: list[Exception] = field(default_factory=list)

    def failures(self) -> list[str]:
        out = [f"{s.name}: {f}" for s in self.students for f in s.failures]
        return out + [f"{type(e).__name__}: {e}" for e in self.errors]


def run_class(settings, settings_file: Path, tmp: Path, members: list[Member]) -> Figures:
    """Set the trial hub up, run the class through it, remove it; return what was measured."""
    figures = Figures(students=[], load_before=os.getloadavg()[0])
    trial.remove_leftovers(settings)
    hub = None
    try:
        started = time.monotonic()
        setup(settings, members, say=lambda _: None)
        figures.setup_s = time.monotonic() - started
        hub = trial.start(settings_file, tmp / "hub.log")
        url, passwords = trial.hub_url(settings), trial.passwords(settings)
        names = [m.name for m in members if not m.is_instructor]
        students = [Student(n, passwords[n], url, settings.course_id) for n in names]
        figures.students = students
        errors = figures.errors
        errors += all_at_once(students, Student.log_in)
        errors += all_at_once(students, Student.start_server)
        time.sleep(10)  # let the servers settle after their start
        uids = [pwd.getpwnam(n).pw_uid for n in names]
        figures.idle = [memory_of(uid) for uid in uids]
        figures.start_cpu = [cpu_seconds_of(uid) for uid in uids]
        errors += all_at_once(students, lambda s: (s.action("fetch"), s.action("submit")))
        inbound = settings.exchange / settings.course_id / "inbound"
        figures.submitted = len(list(inbound.iterdir()))
        cells = lesson_cells()
        errors += all_at_once(students, lambda s: s.run_lesson_in_a_kernel(cells))
        time.sleep(5)
        figures.busy = [memory_of(uid) for uid in uids]
        figures.lesson_cpu = [
            cpu_seconds_of(uid) - before
            for uid, before in zip(uids, figures.start_cpu, strict=True)
        ]
        state = settings.state_dir
        pid_files = ("jupyterhub.pid", "jupyterhub-proxy.pid")
        figures.hub = memory_of_pids([int((state / f).read_text()) for f in pid_files])
    finally:
        if hub is not None:
            trial.stop(hub)
        trial.remove_leftovers(settings)
    return figures


def report(n: int, f: Figures) -> None:
    cpus = os.cpu_count()
    mem_total = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    timing = lambda key: [s.timings[key] for s in f.students if key in s.timings]  # noqa: E731
    print(f"class hub, {n} students at once, {cpus} cores, {mem_total / 2**20:.1f} GiB RAM")
    print(f"load average before the run: {f.load_before:.1f} (other work on this machine)")
    print(f"setup of {n + 1} accounts + release of {LESSON}: {f.setup_s:.1f} s")
    print(summary("server start (request to ready)", timing("start")))
    print(summary("CPU time of a server start", f.start_cpu))
    print(summary("idle server RSS per student", [m[0] for m in f.idle], "MiB"))
    print(summary("idle server PSS per student", [m[1] for m in f.idle], "MiB"))
    print(summary("fetch latency", timing("fetch")))
    print(summary("submit latency", timing("submit")))
    print(summary("running the lesson's cells", timing("lesson")))
    print(summary("CPU time of the kernel and the lesson", f.lesson_cpu))
    print(summary("RSS per student, lesson kernel alive", [m[0] for m in f.busy], "MiB"))
    print(summary("PSS per student, lesson kernel alive", [m[1] for m in f.busy], "MiB"))
    print(f"the hub and its proxy: RSS {f.hub[0]:.0f} MiB, PSS {f.hub[1]:.0f} MiB")
    print(f"submissions in the exchange: {f.submitted} of {n}")
    failures = f.failures()
    print(f"failures: {len(failures)}")
    for failure in failures:
        print(f"  {failure}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: the benchmark makes Unix accounts", file=sys.stderr)
        return 2
    members = [Member(f"{trial.PREFIX}teacher", "instructor")]
    members += [Member(f"{trial.PREFIX}s{i:02d}", "student") for i in range(1, args.students + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        settings_file = trial.trial_toml((LESSON,), Path(tmp))
        settings = load(settings_file)
        with trial.exclusive(settings):
            figures = run_class(settings, settings_file, Path(tmp), members)
    report(args.students, figures)
    return 1 if figures.failures() or figures.submitted != args.students else 0


if __name__ == "__main__":
    raise SystemExit(main())
