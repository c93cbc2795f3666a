#!/usr/bin/env bash
# Stands in for Prisma's schema-engine binary, which Prisma downloads at CLI start and which
# cannot be downloaded in air-gapped installs. `prisma generate` never runs it. Commands that
# would (`prisma migrate ...`, `prisma db push`) end here with a pointer to the project's migrator.
echo "Prisma's schema engine is not installed here: apply migrations with 'npm run db:migrate'" \
  "(prisma/migrate.ts), which records them in _prisma_migrations the way 'prisma migrate deploy' does." >&2
exit 1
