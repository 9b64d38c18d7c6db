"""Is the Kubernetes deployment (deploy/k8s) consistent, and as safe as it says, offline?

No cluster, no Docker engine and no Helm here: these tests check what can be checked without
them. The Helm values against the key paths the pinned chart version documents, the image's
packages against pyproject.toml, the Dockerfile against its build context, the hub's role hook
against a stand-in spawner, and the start script's permission layout with real Unix permissions
(as root, with uids that no account has).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest
import tomllib
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
CHART_VERSION = "4.4.0"
KEYS = K8S / "chart" / f"jupyterhub-{CHART_VERSION}-keys.json"


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


course_start = _load("k8s_course_start", K8S / "course_start.py")
extract_keys = _load("k8s_extract_keys", K8S / "chart" / "extract_keys.py")


def _values() -> dict:
    return yaml.safe_load((K8S / "values.yaml").read_text())


# --------------------------------------------------------------------------------------------
# Helm values: only keys the chart documents


JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "null": type(None),
}


def _matches(segment, key: str) -> bool:
    if isinstance(segment, dict):
        return re.search(segment["pattern"], key) is not None
    return segment == key


def _type_ok(value, allowed: list[str]) -> bool:
    if not allowed:
        return True
    if isinstance(value, bool):  # a bool is an int in Python, not in JSON
        return "boolean" in allowed
    return any(isinstance(value, JSON_TYPES[t]) for t in allowed)


def undocumented(values: dict, chart: dict) -> list[str]:
    """Every key path of ``values`` the chart does not document, or whose value has a type the
    chart does not allow; free-form (``open``) parts are not entered."""
    entries = [(e["key"], e) for e in chart["paths"]]
    problems: list[str] = []

    def walk(node: dict, path: list) -> None:
        for key, value in node.items():
            here = [*path, key]
            found = None
            for candidate, entry in entries:
                if len(candidate) == len(here) and all(
                    _matches(s, k) for s, k in zip(candidate, here, strict=True)
                ):
                    found = entry
                    if not isinstance(candidate[-1], dict):
                        break  # a named property wins over a pattern
            name = ".".join(map(str, here))
            if found is None:
                problems.append(f"{name}: not a key of chart {chart['version']}")
                continue
            if not _type_ok(value, found["types"]):
                problems.append(f"{name}: {type(value).__name__}, chart allows {found['types']}")
            elif isinstance(value, dict) and not found["open"]:
                walk(value, here)

    walk(values, [])
    return problems


def test_values_use_only_keys_the_pinned_chart_documents():
    """Does every key of values.yaml exist, with an allowed type, in chart 4.4.0's schema?"""
    chart = json.loads(KEYS.read_text())
    assert chart["version"] == CHART_VERSION
    assert undocumented(_values(), chart) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["singleuser", "storage", "extraVolume"], [], "singleuser.storage.extraVolume: not a key"),
        (["singleuser", "uid"], "0", "singleuser.uid: str"),
        (["hub", "cofig"], {}, "hub.cofig: not a key"),
        (["singleuser", "extraLabels", "team"], 3, "singleuser.extraLabels.team: int"),
    ],
)
def test_the_key_check_catches_a_mistake(path, value, expected):
    """The check itself: a misspelt key or a value of the wrong type is reported."""
    values = _values()
    node = values
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    problems = undocumented(values, json.loads(KEYS.read_text()))
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_free_form_parts_are_not_checked_but_their_neighbours_are():
    """hub.config passes traitlets through (any class name with a capital); hub.config.x is not."""
    chart = json.loads(KEYS.read_text())
    ok = {"hub": {"config": {"AnyClass": {"any_trait": 1}}}}
    assert undocumented(ok, chart) == []
    assert undocumented({"hub": {"config": {"lowercase": {}}}}, chart) != []


def test_extractor_keeps_paths_types_and_free_form_parts():
    """extract_keys on a small schema: properties, patternProperties, open objects."""
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "a": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"b": {"type": ["string", "null"]}},
                "patternProperties": {"^x-": {"type": "integer"}},
            },
            "free": {"type": "object", "additionalProperties": True},
            "blob": {"type": "object"},
        },
    }
    got = {
        json.dumps(e["key"]): (e["types"], e["open"]) for e in extract_keys.documented_paths(schema)
    }
    assert got == {
        '["a"]': (["object"], False),
        '["a", "b"]': (["null", "string"], False),
        '["a", {"pattern": "^x-"}]': (["integer"], False),
        '["blob"]': (["object"], True),
        '["free"]': (["object"], True),
    }


def test_the_chart_version_is_pinned_the_same_everywhere():
    """values.yaml, the README's helm command and the keys file name one chart version."""
    values_text = (K8S / "values.yaml").read_text()
    readme = (K8S / "README.md").read_text()
    chart = json.loads(KEYS.read_text())
    assert f"version {CHART_VERSION}" in values_text
    assert f"--version {CHART_VERSION}" in readme
    assert f"tag {CHART_VERSION} (commit " in chart["source"]


# --------------------------------------------------------------------------------------------
# The image: runtime packages only


def _requirement_name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _image_requirements() -> dict[str, str]:
    lines = (K8S / "requirements.txt").read_text().splitlines()
    reqs = [line.split("#", 1)[0].strip() for line in lines]
    return {_requirement_name(r): r.replace(" ", "") for r in reqs if r}


def test_image_packages_are_the_runtime_dependencies_and_the_server():
    """requirements.txt = pyproject's [project].dependencies (same bounds) + jupyterhub 5."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    runtime = {
        _requirement_name(r): r.replace(" ", "") for r in pyproject["project"]["dependencies"]
    }
    image = _image_requirements()
    server = image.pop("jupyterhub")
    assert image == runtime
    # chart 4.4.0's hub is JupyterHub 5.5.0; the single-user server keeps the same major version
    assert server == "jupyterhub>=5.5,<6"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (K8S / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_installs_no_test_extras():
    """Only requirements.txt and the course package without dependencies are pip-installed."""
    text = (K8S / "Dockerfile").read_text()
    runs = " && ".join(rest for word, rest in _dockerfile_instructions() if word == "RUN")
    installs = [part.strip() for part in runs.split("&&") if "pip install" in part]
    assert installs == [
        "pip install --no-cache-dir --upgrade pip",
        "pip install --no-cache-dir -r /opt/course/requirements.txt",
        "pip install --no-cache-dir --no-deps /opt/course/src",
    ]
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for banned in ("[dev]", "torch", "pytest", "playwright", "ruff", "conda"):
        assert banned not in code
    assert not {"torch", "pytest", "playwright", "ruff"} & set(_image_requirements())


def _ignore_file_lets_through() -> set[str]:
    lines = (K8S / "Dockerfile.dockerignore").read_text().splitlines()
    return {line[1:] for line in lines if line.startswith("!")}


def test_dockerfile_copies_only_files_that_exist_and_that_the_ignore_file_lets_through():
    """Every named COPY source exists and is let into the build context."""
    allowed = _ignore_file_lets_through()
    sources = []
    for word, rest in _dockerfile_instructions():
        if word == "COPY":
            sources += rest.split()[:-1]
    named = [s for s in sources if s != "."]
    assert named and "." in sources, sources
    for source in named:
        assert (REPO / source).exists(), source
        assert source in allowed, f"{source} is excluded by Dockerfile.dockerignore"


def test_build_context_holds_every_package_the_project_installs():
    """The image installs the course from the context: every package of pyproject.toml is in it."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    allowed = _ignore_file_lets_through()
    assert {"nnkit", "autograder"} <= packages
    assert packages <= allowed, f"add !{sorted(packages - allowed)} to Dockerfile.dockerignore"
    assert {"pyproject.toml", "README.md"} <= allowed  # what pip needs to build the package


def test_image_configures_jupyter_and_starts_with_the_role_folder():
    """The entry point is course_start.py; the environment gets the course's lab settings."""
    instructions = _dockerfile_instructions()
    entrypoint = json.loads(next(rest for word, rest in instructions if word == "ENTRYPOINT"))
    assert entrypoint[-1] == "/opt/course/course_start.py"
    runs = [rest for word, rest in instructions if word == "RUN"]
    assert "python -m autograder.setup_jupyter" in runs
    source = (K8S / "course_start.py").read_text()
    assert '"-m", "autograder.setup_jupyter", "--role", identity.role' in source


# --------------------------------------------------------------------------------------------
# The pieces agree with one another


def test_values_start_script_and_nbgrader_config_agree_on_paths_and_variables():
    values = _values()
    single = values["singleuser"]
    assert single["uid"] == 0  # course_start.py must start as root to give out uids
    assert single["allowPrivilegeEscalation"] is False
    assert single["extraEnv"]["COURSE_USER_ID"] == "{userid}"
    mount = single["storage"]["extraVolumeMounts"][0]
    assert Path(mount["mountPath"]) == course_start.EXCHANGE
    assert single["storage"]["homeMountPath"] == str(course_start.HOME)
    claim = single["storage"]["extraVolumes"][0]["persistentVolumeClaim"]["claimName"]
    storage = yaml.safe_load((K8S / "course-storage.yaml").read_text())
    assert storage["metadata"]["name"] == claim
    assert storage["spec"]["accessModes"] == ["ReadWriteMany"]
    nbgrader = (K8S / "nbgrader_config.py").read_text()
    assert f'c.Exchange.root = "{course_start.EXCHANGE}"' in nbgrader
    assert "c.CourseDirectory.groupshared = True" in nbgrader
    pattern = values["hub"]["config"]["Authenticator"]["username_pattern"]
    assert pattern == course_start.NAME.pattern


# --------------------------------------------------------------------------------------------
# The hub's role hook, run against a stand-in spawner


class _Spawner:
    def __init__(self, groups: list[str], mounts):
        self.user = types.SimpleNamespace(groups=[types.SimpleNamespace(name=g) for g in groups])
        self.environment = {"NBGRADER_COURSE_ID": "nnkit"}
        self.volume_mounts = mounts


def _role_hook():
    from traitlets.config import Config

    c = Config()
    exec(_values()["hub"]["extraConfig"]["course-roles.py"], {"c": c})
    return c.KubeSpawner.pre_spawn_hook


@pytest.mark.parametrize("mounts", [{"0-course-shared": {"name": "x"}}, [{"name": "x"}]])
def test_role_hook_gives_the_course_folder_to_instructors_only(mounts):
    hook = _role_hook()
    teacher = _Spawner(["instructors"], mounts)
    student = _Spawner(["students"], mounts)
    hook(teacher)
    hook(student)
    assert teacher.environment == {"NBGRADER_COURSE_ID": "nnkit", "COURSE_ROLE": "instructor"}
    assert student.environment == {"NBGRADER_COURSE_ID": "nnkit", "COURSE_ROLE": "student"}
    listed = teacher.volume_mounts.values() if isinstance(mounts, dict) else teacher.volume_mounts
    course = [m for m in listed if m.get("subPath") == "course"]
    assert course == [
        {"name": "course-shared", "mountPath": str(course_start.COURSE_FOLDER), "subPath": "course"}
    ]
    assert student.volume_mounts == mounts  # unchanged: no course folder for a student


# --------------------------------------------------------------------------------------------
# course_start.py: decisions (no root needed)


def _env(**extra) -> dict[str, str]:
    return {"JUPYTERHUB_USER": "alice", "COURSE_USER_ID": "7", "COURSE_ROLE": "student", **extra}


def test_identity_from_the_hub_variables():
    student = course_start.identity_from_env(_env())
    assert student == course_start.Identity("alice", 200_007, 100, (), "student")
    teacher = course_start.identity_from_env(_env(COURSE_ROLE="instructor"))
    assert teacher.groups == (course_start.INSTRUCTORS_GID,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"JUPYTERHUB_USER": "Alice@uni.edu"}, "not a valid Unix user name"),
        ({"JUPYTERHUB_USER": ""}, "not a valid Unix user name"),
        ({"COURSE_USER_ID": "{userid}"}, "numeric user id"),
        ({"COURSE_USER_ID": "0"}, "numeric user id"),
        ({"COURSE_ROLE": "admin"}, "COURSE_ROLE='admin' must be one of"),
    ],
)
def test_bad_hub_variables_stop_the_start_with_a_fix(change, message):
    with pytest.raises(course_start.StartError, match=re.escape(message)):
        course_start.identity_from_env(_env(**change))


PASSWD = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nusers:x:100:\n"


def test_add_user_is_idempotent_and_adds_the_instructors_group():
    identity = course_start.identity_from_env(_env())
    passwd, group = course_start.add_user(identity, PASSWD, GROUP)
    assert passwd == PASSWD + "alice:x:200007:100::/home/jovyan:/bin/bash\n"
    assert group == GROUP + "course-instructors:x:2000:\n"
    assert course_start.add_user(identity, passwd, group) == (passwd, group)


@pytest.mark.parametrize("name", ["root", "nobody"])
def test_a_hub_user_named_like_a_system_account_is_refused(name):
    identity = course_start.identity_from_env(_env(JUPYTERHUB_USER=name))
    with pytest.raises(course_start.StartError, match="collides with the image's account"):
        course_start.add_user(identity, PASSWD, GROUP)


def test_exchange_layout_and_modes():
    student = course_start.exchange_layout(Path("/x"), "nnkit", "student")
    assert [(str(f.path), oct(f.mode), f.gid) for f in student] == [
        ("/x", "0o755", 0),
        ("/x/nnkit", "0o2775", 2000),
        ("/x/nnkit/outbound", "0o2775", 2000),
        ("/x/nnkit/inbound", "0o2773", 2000),
        ("/x/nnkit/feedback", "0o2771", 2000),
    ]
    teacher = course_start.exchange_layout(Path("/x"), "nnkit", "instructor")
    assert teacher[:-1] == student
    assert (teacher[-1].path, teacher[-1].mode) == (course_start.COURSE_FOLDER, 0o2770)
    with pytest.raises(course_start.StartError, match="NBGRADER_COURSE_ID"):
        course_start.exchange_layout(Path("/x"), "../etc", "student")


def test_role_folder_from_setup_jupyter_output(tmp_path):
    folder = tmp_path / "student"
    folder.mkdir()
    assert course_start.role_config_dir(f"{folder}\n", "student") == folder
    for printed in ["", "wrote /x/overrides.json", "student", str(tmp_path / "missing")]:
        with pytest.raises(course_start.StartError, match="role's Jupyter configuration folder"):
            course_start.role_config_dir(printed, "student")


def test_server_environment_puts_the_role_folder_first():
    student = course_start.identity_from_env(_env())
    env = course_start.user_environment(
        student, {"JUPYTER_CONFIG_PATH": "/etc/extra", "PATH": "/x"}, Path("/r/student")
    )
    assert env["JUPYTER_CONFIG_PATH"] == "/r/student:/etc/extra"
    assert (env["USER"], env["HOME"], env["PATH"]) == ("alice", "/home/jovyan", "/x")


def test_the_server_runs_as_the_user_without_capabilities():
    teacher = course_start.identity_from_env(_env(COURSE_ROLE="instructor"))
    command = course_start.setpriv_command(teacher, ["jupyterhub-singleuser", "--debug"])
    assert command[:4] == ["setpriv", "--reuid=200007", "--regid=100", "--groups=2000"]
    assert {"--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"} <= set(command)
    assert command[-3:] == ["--", "jupyterhub-singleuser", "--debug"]
    student = course_start.identity_from_env(_env())
    assert "--clear-groups" in course_start.setpriv_command(student, ["x"])


# --------------------------------------------------------------------------------------------
# course_start.py: the permission layout with real Unix permissions (root only)

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv (util-linux) to act as other uids",
)


def _as(uid: int, groups: tuple[int, ...], *command: str) -> subprocess.CompletedProcess:
    groups_arg = f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups"
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", "--regid=100", groups_arg, "--", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_root
def test_exchange_permissions_keep_students_apart():
    """Student A submits; student B cannot list the submissions nor the feedback; instructors can;
    students read released files and their own feedback by name, and cannot write releases."""
    base = Path(tempfile.mkdtemp(prefix="k8s-exchange-"))
    try:
        os.chmod(base, 0o755)
        layout = course_start.exchange_layout(base / "exchange", "nnkit", "student")
        course_start.apply_layout(layout)
        course = base / "exchange" / "nnkit"
        a, b, teacher = 200_001, 200_002, 200_003
        instructors = (course_start.INSTRUCTORS_GID,)

        # the instructor releases a lesson and a feedback file
        assert (
            _as(teacher, instructors, "mkdir", str(course / "outbound" / "01_neurons")).returncode
            == 0
        )
        assert (
            _as(teacher, instructors, "touch", str(course / "feedback" / "abc123.html")).returncode
            == 0
        )
        # student A submits (nbgrader: mkdir inbound/<name>+<lesson>+<time>+<random>)
        submission = course / "inbound" / "alice+01_neurons+2026-01-01+Xy7q"
        assert _as(a, (), "mkdir", str(submission)).returncode == 0

        denied = _as(b, (), "ls", str(course / "inbound"))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr
        denied = _as(b, (), "ls", str(course / "feedback"))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr
        denied = _as(b, (), "mkdir", str(course / "outbound" / "fake"))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr

        assert _as(b, (), "ls", str(course / "outbound")).stdout.split() == ["01_neurons"]
        assert _as(b, (), "cat", str(course / "feedback" / "abc123.html")).returncode == 0
        listed = _as(teacher, instructors, "ls", str(course / "inbound"))
        assert listed.stdout.split() == [submission.name]
        assert submission.stat().st_gid == course_start.INSTRUCTORS_GID  # set-group-id folder
    finally:
        shutil.rmtree(base)


@needs_root
def test_the_course_folder_is_closed_to_students(monkeypatch):
    base = Path(tempfile.mkdtemp(prefix="k8s-course-"))
    try:
        os.chmod(base, 0o755)
        folder = course_start.Folder(base / "course", 0o2770, course_start.INSTRUCTORS_GID)
        course_start.apply_layout([folder])
        (folder.path / ".autograder-secret").write_text("s3cret")
        denied = _as(200_001, (), "ls", str(folder.path))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr
        assert (
            _as(200_003, (course_start.INSTRUCTORS_GID,), "ls", "-a", str(folder.path)).returncode
            == 0
        )
    finally:
        shutil.rmtree(base)


@pytest.mark.slow
def test_the_images_install_carries_the_role_folders_the_start_script_reads(tmp_path):
    """The image installs the course with ``pip install --no-deps`` (not editable): do the role
    folders come with it, does ``setup_jupyter --role`` print a folder course_start accepts,
    and does it hold the repository's role files byte for byte?"""
    src, target = tmp_path / "src", tmp_path / "site"
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):  # what the image's build context holds
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    for role in ("student", "instructor"):
        printed = subprocess.run(
            [sys.executable, "-m", "autograder.setup_jupyter", "--role", role],
            env={**os.environ, "PYTHONPATH": str(target)},
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        folder = course_start.role_config_dir(printed, role)
        assert folder.is_relative_to(target), (role, folder)
        repo_files = sorted(
            p.relative_to(REPO / "course_roles" / role)
            for p in (REPO / "course_roles" / role).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
        assert repo_files, role
        for rel in repo_files:
            assert (folder / rel).read_bytes() == (REPO / "course_roles" / role / rel).read_bytes()
