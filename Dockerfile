# syntax=docker/dockerfile:1
# Build stage: the same scripts/setup.sh as the README (worker built from source, npm ci, tsc, bundle).
FROM node:20-bookworm AS build
WORKDIR /app
ENV MEDIASOUP_WORKER_CACHE=/opt/mediasoup-worker
# The worker changes only with the mediasoup version: build it in its own layer so it stays cached.
COPY scripts/worker/ scripts/worker/
RUN bash scripts/worker/build-worker.sh
COPY . .
RUN bash scripts/setup.sh && npm prune --omit=dev

# Runtime stage: Node, the worker binary and the shared libraries it links (not the -dev packages);
# libsrtp (OpenSSL-backed) is linked into the worker statically.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libuv1 libssl3 libabsl20220623 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /opt/mediasoup-worker/3.27.1/mediasoup-worker /usr/local/bin/mediasoup-worker
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
ENV NODE_ENV=production \
    MEDIASOUP_WORKER_BIN=/usr/local/bin/mediasoup-worker \
    PORT=3000 \
    RTC_PORT_BASE=40000
# The image's built-in unprivileged user.
USER node
EXPOSE 3000 40000-40015/udp 40000-40015/tcp
HEALTHCHECK --interval=15s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/server/main.js"]
