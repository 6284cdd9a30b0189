# FinFlow: one image, every service; which ones a container runs is its FINFLOW_SERVICES (or --services).
# Build: docker build -t finflow .   Run: docker compose up (see docker-compose.yml) or deploy/k8s/.
ARG SWIFT_VERSION=6.3

FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends librdkafka-dev libhiredis-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The manifest first, so the dependencies resolve in a layer of their own.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product finflow --static-swift-stdlib --traits Kafka,Redis \
    && mkdir -p /out \
    && cp "$(swift build -c release --show-bin-path)/finflow" /out/ \
    && cp -R "$(swift build -c release --show-bin-path)"/*.resources /out/

FROM debian:bookworm-slim
# librdkafka for the Kafka event bus; hiredis for the shared Redis state; libxml2 for reading camt.053 statements (FoundationXML); certificates for
# PostgreSQL over TLS and OpenID Connect providers.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends librdkafka1 libhiredis0.14 libxml2 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/finflow --create-home finflow
# The binary and its resource bundles (common passwords, OpenAPI documents), side by side as SwiftPM expects.
COPY --from=build /out/ /usr/local/bin/
USER finflow
WORKDIR /var/lib/finflow
ENV FINFLOW_HOST=0.0.0.0 FINFLOW_PORT=8080 FINFLOW_DATA_DIRECTORY=/var/lib/finflow FINFLOW_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${FINFLOW_PORT} && printf 'GET /health/live HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["finflow"]
CMD ["serve"]
