# The bot as one container: `serve` (webhook + GET /healthz) by default; `run` or the operator
# commands by overriding the command, e.g. `docker run IMAGE python -m bot db upgrade`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8080 \
    DATABASE_URL=sqlite+aiosqlite:////data/mantelzorgbot.sqlite3

WORKDIR /app
# Dependencies first (with an empty package), so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir bot && touch bot/__init__.py && pip install . && rm -rf bot build *.egg-info
COPY bot ./bot
RUN pip install --no-deps . && rm -rf build *.egg-info
# `python -m bot` in /app runs the code in /app/bot, which reads its content and translations
# next to it.
COPY alembic.ini babel.cfg Procfile ./
COPY dialogs ./dialogs
COPY locales ./locales

# Never run as root; /data holds the SQLite file (use DATABASE_URL for PostgreSQL instead).
RUN useradd --system --uid 10001 --home-dir /app bot \
    && mkdir /data && chown bot /data
USER bot
VOLUME /data
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)" || exit 1

# `docker stop` sends SIGTERM: the bot stops gracefully within SHUTDOWN_TIMEOUT (default 20 s),
# so give it more than that: `docker stop -t 30` (Docker's default wait is 10 s).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "serve"]
