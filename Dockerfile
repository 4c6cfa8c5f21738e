# One image for every smsq service in docker-compose.yml; the command picks the role.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY providers ./providers
COPY campaigns ./campaigns
COPY worker ./worker
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT ["smsq"]
