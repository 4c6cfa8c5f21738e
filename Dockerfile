# One image for every smsq service in docker-compose.yml; the command picks the role.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY providers ./providers
COPY campaigns ./campaigns
COPY worker ./worker
COPY smsq ./smsq
RUN pip install --no-cache-dir .
# The default SQLite database and `smsq demo` live in ./var; /app is root's, so make the one
# folder nobody writes.
RUN install -d -o nobody /app/var
USER nobody
ENTRYPOINT ["smsq"]
