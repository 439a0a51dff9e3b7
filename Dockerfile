# qbittorrent-monitor: the exporter and its scheduled jobs, as a non-root container.
#   docker build -t qbittorrent-monitor .
#   docker run -p 9713:9713 -e QBITTORRENT_MONITOR_QBITTORRENT_URL=http://qbittorrent:8080 qbittorrent-monitor
# Or the whole stack (qBittorrent, Prometheus, Alertmanager, Grafana): deploy/docker-compose.yml.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: the package and its dependencies in a virtual environment ----------------------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
# The install scripts/setup runs in CI (a venv, then pip install of the project), without -e and the
# test extra; tests/unit/test_deploy.py checks that the two stay the same commands.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install -q --disable-pip-version-check --no-cache-dir .

# -- run: the venv only, as an unprivileged user -------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 qbtmon \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/qbittorrent-monitor qbtmon
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    QBITTORRENT_MONITOR_DATA_DIR=/var/lib/qbittorrent-monitor/data
USER 10001:10001
WORKDIR /var/lib/qbittorrent-monitor
VOLUME ["/var/lib/qbittorrent-monitor"]
EXPOSE 9713
# /healthz needs no credentials. With --web.listen-address on another port, or TLS, override this check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9713/healthz', timeout=4)"]
ENTRYPOINT ["qbittorrent-monitor"]
