"""Packaging and deployment files, validated without a Docker engine (none runs on the CI machines).

What can be checked here is checked for real: the compose file parses and every path it mounts exists;
the Prometheus config it mounts passes `promtool check config` with the rule files it would load; the
Alertmanager config passes `amtool check-config`; Grafana's provisioning points where compose mounts the
dashboards; the Dockerfile installs with the same commands as scripts/setup (what CI runs), runs as a
non-root user, exposes the default port, health-checks /healthz and starts the console script.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from exporter.config import DEFAULT_PORT

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def compose(file: str = "docker-compose.yml") -> dict:
    return yaml.safe_load((DEPLOY / file).read_text())


def mounts(service: str, file: str = "docker-compose.yml") -> dict[str, Path]:
    """container path -> host path of the service's bind mounts (relative to deploy/)."""
    out = {}
    for volume in compose(file)["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            out[target] = (DEPLOY / source).resolve()
    return out


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: run scripts/setup"
    return path


# -- compose ----------------------------------------------------------------------------------


def test_compose_has_the_whole_stack():
    services = compose()["services"]
    assert set(services) == {"qbittorrent", "exporter", "prometheus", "alertmanager", "grafana"}
    exporter = services["exporter"]
    env = exporter["environment"]
    assert env["QBITTORRENT_MONITOR_QBITTORRENT_URL"].startswith("http://qbittorrent:")
    assert f"{DEFAULT_PORT}:{DEFAULT_PORT}" in exporter["ports"]
    # The password comes from a compose secret, mounted as a file: never a flag.
    assert env["QBITTORRENT_MONITOR_QBITTORRENT_PASSWORD_FILE"] == "/run/secrets/qbittorrent_password"
    assert exporter["secrets"] == ["qbittorrent_password"]
    assert "qbittorrent_password" in compose()["secrets"]


@pytest.mark.parametrize("file", ["docker-compose.yml", "docker-compose.ha.yml"])
def test_compose_paths_exist(file):
    c = compose(file)
    for name, service in c["services"].items():
        for target, host in mounts(name, file).items():
            assert host.exists(), f"{name}: {host} (mounted at {target}) does not exist"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in c["volumes"], f"{name}: named volume {source} is not declared"
    build = next(s["build"] for name, s in c["services"].items() if name.startswith("exporter"))
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_exporter_config_in_compose_is_valid(capsys):
    from exporter.cli import main

    config = mounts("exporter")["/etc/qbittorrent-monitor/config.yml"]
    assert main(["check-config", "--config.file", str(config)]) == 0, capsys.readouterr().err
    assert (
        compose()["services"]["exporter"]["environment"]["QBITTORRENT_MONITOR_CONFIG_FILE"]
        == "/etc/qbittorrent-monitor/config.yml"
    )


@pytest.mark.parametrize(
    ("file", "prometheus", "exporters"),
    [
        ("docker-compose.yml", "prometheus.yml", ["exporter"]),
        ("docker-compose.ha.yml", "prometheus-ha.yml", ["exporter-a", "exporter-b"]),
    ],
)
def test_prometheus_config_passes_promtool_with_the_rules_compose_mounts(
    tmp_path, file, prometheus, exporters
):
    config = yaml.safe_load((DEPLOY / prometheus).read_text())
    paths = mounts("prometheus", file)
    assert paths["/etc/prometheus/prometheus.yml"] == DEPLOY / prometheus
    # Rewrite the container paths of the rule files to the host files compose mounts there.
    rule_files = [str(paths[p]) for p in config["rule_files"]]
    assert {Path(p).name for p in rule_files} == {"alerts.yml", "recording.yml"}
    config["rule_files"] = rule_files
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    selector = re.search(r'job="([^"]+)"', (ROOT / "prometheus" / "alerts.yml").read_text()).group(1)
    assert jobs[selector]["static_configs"][0]["targets"] == [f"{e}:{DEFAULT_PORT}" for e in exporters]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_alertmanager_config_passes_amtool():
    assert mounts("alertmanager")["/etc/alertmanager/alertmanager.yml"] == DEPLOY / "alertmanager.yml"
    result = subprocess.run(
        [tool("amtool"), "check-config", str(DEPLOY / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisioning_matches_the_compose_mounts():
    paths = mounts("grafana")
    assert paths["/etc/grafana/provisioning"] == ROOT / "grafana" / "provisioning"
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/qbittorrent-monitor.yml").read_text())
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert paths[dashboards_path] == ROOT / "grafana" / "dashboards"
    assert list((ROOT / "grafana" / "dashboards").glob("*.json"))
    datasource = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    assert "9090:9090" in compose()["services"]["prometheus"]["ports"]


def test_ha_compose_runs_two_replicas_on_one_postgres(tmp_path, monkeypatch, capsys):
    """Both replicas are the same service with the same store; PostgreSQL's password is a secret file
    shared by the database and the replicas; the replicas' configuration passes check-config."""
    from exporter.cli import main

    c = compose("docker-compose.ha.yml")
    services = c["services"]
    replicas = [name for name, s in services.items() if "exporter" in name]
    assert replicas == ["exporter-a", "exporter-b"]
    a, b = (services[name] for name in replicas)
    assert a["environment"] == b["environment"] and a["build"] == b["build"]
    assert {a["ports"][0].split(":")[0], b["ports"][0].split(":")[0]} == {"9713", "9714"}
    env = a["environment"]
    url = env["QBITTORRENT_MONITOR_STORE_URL"]
    postgres = services["postgres"]["environment"]
    assert url == (f"postgresql://{postgres['POSTGRES_USER']}@postgres:5432/{postgres['POSTGRES_DB']}"), (
        "the replicas' store is the compose PostgreSQL"
    )
    assert ":" not in url.split("//")[1].split("@")[0], "the password is a secret file, not in the URL"
    assert env["QBITTORRENT_MONITOR_STORE_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert postgres["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "postgres_password" in a["secrets"] and "postgres_password" in services["postgres"]["secrets"]
    secret = c["secrets"]["postgres_password"]["file"]
    assert secret.startswith("./secrets/") and (DEPLOY / "secrets").is_dir()
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(DEPLOY / secret)], cwd=ROOT, timeout=30
    ).returncode
    assert ignored == 0, f"deploy/{secret} must stay out of git"

    # The replicas' environment (paths made local) passes check-config.
    for name in ("qbittorrent", "postgres"):
        (tmp_path / name).write_text("secret\n")
    for key, value in env.items():
        value = {
            "/run/secrets/qbittorrent_password": str(tmp_path / "qbittorrent"),
            "/run/secrets/postgres_password": str(tmp_path / "postgres"),
            "/etc/qbittorrent-monitor/config.yml": str(mounts("exporter-a", "docker-compose.ha.yml")[value])
            if value == "/etc/qbittorrent-monitor/config.yml"
            else value,
        }.get(value, value)
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("QBITTORRENT_MONITOR_DATA_DIR", str(tmp_path / "data"))
    assert main(["check-config"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"store {url} (password set), shared by replicas" in out, out
    assert "secret" not in out


# -- Dockerfile -------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_dockerfile_is_multi_stage_non_root_with_healthcheck_port_and_entrypoint():
    steps = dockerfile()
    assert sum(1 for word, _ in steps if word == "FROM") >= 2, "multi-stage build"
    final = dict(final_stage())
    user = final["USER"].split(":")[0]
    assert user not in ("root", "0"), "the image must not run as root"
    assert final["EXPOSE"] == str(DEFAULT_PORT)
    assert f"http://127.0.0.1:{DEFAULT_PORT}/healthz" in final["HEALTHCHECK"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert final["ENTRYPOINT"] == f'["{next(iter(scripts))}"]'
    assert "COPY --from=build /opt/venv /opt/venv" in [
        f"COPY {args}" for word, args in final_stage() if word == "COPY"
    ]


def test_dockerfile_python_satisfies_requires_python():
    args = dict(a.split("=", 1) for word, a in dockerfile() if word == "ARG" and "=" in a)
    image = args["PYTHON_IMAGE"]
    version = re.match(r"python:(\d+)\.(\d+)", image).groups()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.match(r">=(\d+)\.(\d+)", requires)
    assert tuple(map(int, version)) >= tuple(map(int, minimum.groups()))


def normalised_install(commands: list[str], venv: str) -> list[list[str]]:
    """The venv + pip install commands, with what differs on purpose taken out: the venv's path,
    the editable flag and the test extra (CI needs them, the image must not), and pip's cache."""
    out = []
    for command in commands:
        words = [w.replace(venv, "VENV") for w in shlex.split(command)]
        words = [w for w in words if w not in ("-e", "--no-cache-dir")]
        words = [re.sub(r"^\.\[.*\]$", ".", w) for w in words]
        out.append(words)
    return out


def test_image_installs_with_the_same_commands_as_ci():
    setup = (ROOT / "scripts" / "setup").read_text()
    ci = [
        line.split("||")[-1].strip()
        for line in setup.splitlines()
        if re.search(r"-m venv|/pip install", line) and not line.lstrip().startswith("#")
    ]
    assert len(ci) == 2, f"scripts/setup changed shape: {ci}"
    image_run = next(args for word, args in dockerfile() if word == "RUN" and "pip install" in args)
    image = [c.strip() for c in image_run.split("&&")]
    assert normalised_install(image, "/opt/venv") == normalised_install(ci, ".venv")


def test_dockerignore_keeps_what_the_image_copies():
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    copied = [args.split()[0] for word, args in dockerfile() if word == "COPY" and "--from" not in args]
    copied += [
        args.split()[1]
        for word, args in dockerfile()
        if word == "COPY" and "--from" not in args and len(args.split()) > 2
    ]
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not any(fnmatch.fnmatch(source, p) for p in patterns), f"{source} is excluded by .dockerignore"
    for needed in (".git", ".venv", "tests"):
        assert needed in patterns, f"{needed} should stay out of the build context"


@pytest.mark.parametrize(
    "path",
    [
        "deploy/docker-compose.yml",
        "deploy/docker-compose.ha.yml",
        "deploy/prometheus.yml",
        "deploy/prometheus-ha.yml",
        "deploy/prometheus-probe.yml",
        "deploy/alertmanager.yml",
        "deploy/qbittorrent-monitor.yml",
    ],
)
def test_deploy_yaml_parses(path):
    assert isinstance(yaml.safe_load((ROOT / path).read_text()), dict)
