# One image for the web and worker processes (docker-compose.yml runs both).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/rft
COPY pyproject.toml requirements.lock README.md alembic.ini ./
COPY app app
COPY worker worker
COPY migrations migrations
COPY templates templates
COPY static static
# Exact versions from the lock (CPU torch). For GPUs, build with
# --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 --build-arg LOCK=/dev/null
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG LOCK=requirements.lock
RUN pip install --no-cache-dir --extra-index-url "$TORCH_INDEX" -c "$LOCK" -e .
ENV RFT_DATA_DIR=/data RFT_HOST=0.0.0.0
VOLUME /data
EXPOSE 8000
CMD ["rft", "serve"]
