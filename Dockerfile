# Seismo — production image. Same entry points as `make run`: python -m config.launcher …
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SEISMO_DATA_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app

# libpq comes with psycopg[binary]; nothing to compile.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# Hashed, compressed static files are collected once, at build time. Settings need URLs to
# import; nothing connects to them here.
RUN DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=build-only DEBUG=0 python manage.py collectstatic --noinput --verbosity 0

RUN useradd --system --uid 1000 --user-group --home-dir /app seismo \
    && mkdir -p /app/var && chown -R seismo:seismo /app/var
USER seismo

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"

# web: WEB_CONCURRENCY daphne processes sharing one socket. Compose runs worker and beat
# from this image with `python -m config.launcher worker` / `… beat`.
CMD ["python", "-m", "config.launcher", "web"]
