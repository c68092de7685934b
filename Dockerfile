# rotator as a container image: multi-stage, Node 20 slim, runs as the non-root `node` user.
#   docker build -t rotator:0.1.0 .
#   docker run --rm rotator:0.1.0 --help
#   docker run --init -v "$PWD/rotator.config.yaml:/etc/rotator/rotator.config.yaml:ro" \
#     --env-file rotator.env rotator:0.1.0 run --config /etc/rotator/rotator.config.yaml
# (--init reaps the processes that `command` outputs start; rotator itself handles SIGTERM.)

# Build: the same tarball `npm pack` makes for the registry (dist/ built by the prepack script).
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm pack --pack-destination /tmp && mv /tmp/rotator-*.tgz /tmp/rotator.tgz

# Run: only the installed package and its production dependencies.
FROM node:20-slim
ENV NODE_ENV=production
# A small young generation for a mostly idle daemon (see deploy/systemd/rotator.service).
ENV NODE_OPTIONS=--max-semi-space-size=4
RUN --mount=type=bind,from=build,source=/tmp/rotator.tgz,target=/tmp/rotator.tgz \
    npm install --global --no-audit --no-fund /tmp/rotator.tgz && npm cache clean --force
USER node
WORKDIR /home/node
EXPOSE 9464
# The binary itself, not npx: npm does not forward SIGTERM to the daemon.
ENTRYPOINT ["rotator"]
CMD ["run", "--config", "/etc/rotator/rotator.config.yaml"]
