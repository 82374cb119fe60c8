# keepgit agent image. The agent needs the host's network namespace and NET_ADMIN/NET_RAW:
#   docker run --network host --cap-add NET_ADMIN --cap-add NET_RAW keepgit agent ...
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 nftables git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/keepgit
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY policies ./policies
COPY repo-template ./repo-template
RUN ln -s /opt/keepgit/bin/keepgit.js /usr/local/bin/keepgit
ENTRYPOINT ["keepgit"]
CMD ["--help"]
