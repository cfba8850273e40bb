# pledgewatch: the bot as a container. Build: docker build -t pledgewatch .   (or: podman build --pull=never ...)
# Run:   docker run -d --env-file .env -v pledgewatch-data:/data pledgewatch
# Own pledges: mount a folder with commitments.toml and feeds.toml at /config (-v "$PWD/config:/config:ro").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A non-root user owns only the state volume.
RUN useradd --create-home --uid 10001 pledgewatch \
    && mkdir -p /data /config \
    && chown pledgewatch:pledgewatch /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . && pledgewatch --version

# The bundled pledges and feeds; mount your own over /config to replace them.
COPY commitments.toml feeds.toml /config/

ENV PLEDGEWATCH_CONFIG_DIR=/config \
    PLEDGEWATCH_DB=/data/pledgewatch.sqlite3

USER pledgewatch
VOLUME ["/data"]
STOPSIGNAL SIGTERM
CMD ["pledgewatch", "run"]
