# syntax=docker/dockerfile:1
# The service's image, in two stages on Node.js 24 (the runtime package.json's "engines" requires).
# test/deploy.files.test.ts checks this file: stages, base images, the non-root user, exposed ports
# (config defaults), COPY sources, and that the runtime stage installs no compiler.

# Build stage: the same scripts as the README's Quick start — scripts/worker/build-worker.sh installs
# its compilers and -dev packages here and builds the mediasoup worker from source (its deb-src entry
# is derived from this image's own apt sources), then scripts/setup.sh runs npm ci, tsc and the bundle.
FROM node:24-bookworm-slim AS build
WORKDIR /app
ENV MEDIASOUP_WORKER_CACHE=/opt/mediasoup-worker
# The worker changes only with the mediasoup version: build it in its own layer so it stays cached.
COPY scripts/worker/ scripts/worker/
RUN bash scripts/worker/build-worker.sh
COPY . .
RUN bash scripts/setup.sh && npm prune --omit=dev

# Runtime stage: Node, the worker binary and only the shared libraries it links (libuv, OpenSSL,
# abseil — not their -dev packages, no compiler); libsrtp (OpenSSL-backed) is linked in statically.
FROM node:24-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libuv1 libssl3 libabsl20220623 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /opt/mediasoup-worker/3.27.1/mediasoup-worker /usr/local/bin/mediasoup-worker
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# PORT and RTC_PORT_BASE are server/config.ts's defaults; worker i listens on RTC_PORT_BASE + i, and
# the exposed range covers up to 16 workers (MEDIASOUP_NUM_WORKERS defaults to the CPU count).
ENV NODE_ENV=production \
    MEDIASOUP_WORKER_BIN=/usr/local/bin/mediasoup-worker \
    PORT=3000 \
    RTC_PORT_BASE=40000
# The base image's unprivileged user (uid 1000).
USER node
EXPOSE 3000/tcp 40000-40015/udp 40000-40015/tcp
HEALTHCHECK --interval=15s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/server/main.js"]
