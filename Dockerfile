# The TOTP service, built from this repository, in three stages:
#   build    all dependencies, compile core and server (TypeScript → dist/, Lua scripts copied)
#   deps     the server's production dependencies only (no compiler, linter, test or CLI packages)
#   runtime  node + those dependencies + the compiled files, run as the unprivileged `node` user
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.json tsconfig.base.json ./
COPY packages/core/package.json packages/core/
COPY packages/server/package.json packages/server/
COPY packages/cli/package.json packages/cli/
COPY test/package.json test/
COPY bench/package.json bench/
RUN npm ci --no-audit --no-fund
COPY packages/core packages/core
COPY packages/server packages/server
RUN npx turbo run build --filter=@totp-service/server

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/server/package.json packages/server/
COPY packages/cli/package.json packages/cli/
COPY test/package.json test/
COPY bench/package.json bench/
RUN npm ci --omit=dev --workspace @totp-service/server --include-workspace-root=false --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/packages/core/package.json packages/core/
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/packages/server/package.json packages/server/
COPY --from=build /app/packages/server/dist packages/server/dist
USER node
EXPOSE 4000
# SIGTERM drains requests in flight for SHUTDOWN_GRACE_MS (10 s): give the container longer than
# that before it is killed (compose: stop_grace_period; Kubernetes: terminationGracePeriodSeconds)
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "packages/server/dist/main.js"]
