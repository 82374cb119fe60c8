# keepgit agent image. The agent needs the host's network namespace and NET_ADMIN/NET_RAW:
#   docker run --network host --cap-add NET_ADMIN --cap-add NET_RAW keepgit agent ...
# Not built in this project's CI (no Docker engine there): build it and run
# `docker run --rm keepgit --version` before publishing.

# Build: the sources must be in place before `npm ci`, whose install and prepare scripts
# compile the ARP addon (node-gyp) and the TypeScript (dist/); dev dependencies (tsc) are
# needed for that and pruned afterwards.
FROM node:20-bookworm AS build
WORKDIR /opt/keepgit
COPY package.json package-lock.json binding.gyp tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY src ./src
COPY policies ./policies
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 nftables git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/keepgit
COPY --from=build /opt/keepgit ./
COPY repo-template ./repo-template
RUN ln -s /opt/keepgit/bin/keepgit.js /usr/local/bin/keepgit
ENTRYPOINT ["keepgit"]
CMD ["--help"]
