# The TOTP service and its admin CLI, built from this repository, in three stages:
#   build    all dependencies; compile core, server and CLI (TypeScript → dist/, Lua scripts copied,
#            the CLI's command manifest written)
#   deps     the production dependencies of the server and the CLI only (no compiler, linter or test
#            packages)
#   runtime  node + those dependencies + the compiled files, run as the unprivileged `node` user;
#            `totp-admin` is on PATH (`docker compose exec totp totp-admin status alice`)
# Node.js 24 (LTS). Built and run by test/docker-stack.e2e.test.ts; the classic builder and
# BuildKit both build it.
FROM node:24-bookworm-slim AS build
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
COPY packages/cli packages/cli
RUN npx turbo run build --filter=@totp-service/server --filter=@totp-service/cli

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/server/package.json packages/server/
COPY packages/cli/package.json packages/cli/
COPY test/package.json test/
COPY bench/package.json bench/
RUN npm ci --omit=dev --workspace @totp-service/server --workspace @totp-service/cli --include-workspace-root=false --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/packages/core/package.json packages/core/
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/packages/server/package.json packages/server/
COPY --from=build /app/packages/server/dist packages/server/dist
COPY --from=build /app/packages/cli/package.json /app/packages/cli/oclif.manifest.json packages/cli/
COPY --from=build /app/packages/cli/bin packages/cli/bin
COPY --from=build /app/packages/cli/dist packages/cli/dist
RUN ln -s /app/packages/cli/bin/run.js /usr/local/bin/totp-admin
USER node
EXPOSE 4000
# SIGTERM drains requests in flight for SHUTDOWN_GRACE_MS (10 s): give the container longer than
# that before it is killed (compose: stop_grace_period; Kubernetes: terminationGracePeriodSeconds)
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "packages/server/dist/main.js"]
