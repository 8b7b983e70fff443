# Production image: runs `contactcenter serve` against the PostgreSQL named by DATABASE_URL.
# The package is installed in place (editable) so the console and widget assets in agent_ui/ and the
# default config in config/ are found beside the code, as in a checkout.
FROM python:3.11-slim
RUN useradd --system --home /app --uid 10001 contactcenter
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contactcenter ./contactcenter
COPY routing ./routing
COPY channels ./channels
COPY agent_ui ./agent_ui
COPY config ./config
RUN pip install --no-cache-dir -e . && chown -R contactcenter /app
USER contactcenter
ENV PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["contactcenter", "serve", "--config", "/app/config/contactcenter.yaml", "--host", "0.0.0.0"]
