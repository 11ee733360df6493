# mcpauth container image: build with `docker build -t mcpauth .`
# Run: docker run -p 8080:8080 -v mcpauth-data:/data \
#        -e MCPAUTH_PUBLIC_URL=https://mcp.example.com mcpauth
# (first user: docker run --rm -i -v mcpauth-data:/data mcpauth user add alice)

# --- privy: the sign-in page's Privy script, Privy's npm SDK + our glue,
# exactly as locked (host-std/privy-glue/package-lock.json); the binary
# embeds it and serves it at /privy/glue.js (scripts/build-privy.sh)
FROM node:22-bookworm-slim AS privy
WORKDIR /src
COPY scripts/build-privy.sh scripts/
COPY host-std/privy-glue/package.json host-std/privy-glue/package-lock.json host-std/privy-glue/
COPY host-std/privy-glue/src host-std/privy-glue/src
RUN bash scripts/build-privy.sh

# --- build: the default (aws-lc) binary needs a C compiler, which this image has
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
COPY --from=privy /src/host-std/privy-glue/dist/glue.js /src/host-std/privy-glue/dist/glue.js.gz host-std/privy-glue/dist/
# Fails the build if the Privy script is missing (host-std/build.rs).
ENV MCPAUTH_REQUIRE_PRIVY_BUNDLE=1
RUN cargo build --release --locked -p mcpauth \
 && install -m 0755 target/release/mcpauth /usr/local/bin/mcpauth

# --- run: no compiler, no shell tools beyond Debian's base, no root
FROM debian:bookworm-slim
# CA certificates for outgoing TLS (Privy, client ID metadata documents).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin mcpauth \
 && mkdir -p /data \
 && chown mcpauth:mcpauth /data \
 && chmod 0700 /data
COPY --from=build /usr/local/bin/mcpauth /usr/local/bin/mcpauth
USER 10001:10001
ENV MCPAUTH_DATA_DIR=/data \
    MCPAUTH_LISTEN=0.0.0.0:8080 \
    MCPAUTH_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
# The binary checks itself: the image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["mcpauth", "healthcheck"]
ENTRYPOINT ["mcpauth"]
CMD ["serve"]
