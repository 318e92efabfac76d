# Sigwatch operator image: build on Node 24, ship only dist/, crds/ and the
# production dependencies, run as a non-root user with a read-only root
# filesystem in mind (nothing is written outside /tmp).
# No Node compile cache is baked in: V8's code cache is not byte-reproducible
# (hack/build-image.sh builds this image reproducibly), and the operator starts
# once per pod. sigwatch keeps its cache in $TMPDIR (the pod's /tmp emptyDir),
# so a restarted container of the same pod starts from it.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY crds ./crds
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["--help"]
