# gradtrace: the API + playground in one image. Build: docker compose build; run: docker compose up.
#
# Stage 1 builds the playground bundle (Vite writes it to backend/gradtrace/static).
FROM node:20-bookworm-slim AS frontend
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ frontend/
COPY backend/gradtrace/core/model.py backend/gradtrace/core/model.py
RUN npm run build

# Stage 2: Python 3.11 on Debian 12, like the machines the sandbox was measured on.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    # torch must not start a thread pool before the zygote forks (a forked child would hang).
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    MKL_NUM_THREADS=1
WORKDIR /app

# torch is pinned exactly and taken from the CPU index: PyPI's default wheel pulls CUDA (GBs).
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
 && pip install "numpy>=1.26"

COPY pyproject.toml README.md ./
COPY backend/ backend/
COPY --from=frontend /src/backend/gradtrace/static/ backend/gradtrace/static/
RUN pip install . && python -c "import gradtrace.api, gradtrace.sandbox.supervisor"

# The service runs as root *inside the container* because the sandbox needs it to create
# namespaces and switch each run to its own unprivileged uid (leased blocks of 64 from 2000000); user code never
# runs as root. See docs/sandbox.md and the capabilities in docker-compose.yml.
ENV GRADTRACE_HOST=0.0.0.0 \
    GRADTRACE_PORT=8000 \
    GRADTRACE_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4).status == 200 else 1)"
CMD ["gradtrace", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
