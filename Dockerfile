# syntax=docker/dockerfile:1
# The controller image; it also carries the self-contained stdio bridge at /opt/mcp-operator/mcp-bridge,
# which stdio MCPServer pods copy in through an init container.
# Build: docker build -t ghcr.io/mcp-operator/mcp-operator:v0.1.0 .

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY lib ./lib
COPY bin ./bin
COPY hack/build-bridge.sh hack/image-tree.sh ./hack/
RUN npx tsc --build \
 && bash hack/build-bridge.sh \
 && bash hack/image-tree.sh /image

# distroless: no shell, no package manager; runs as the numeric nonroot user.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
COPY --from=build /image/opt/mcp-operator /opt/mcp-operator
WORKDIR /opt/mcp-operator
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "/opt/mcp-operator/bin/mcp-operator.js"]
CMD ["controller", "--leader-elect"]
