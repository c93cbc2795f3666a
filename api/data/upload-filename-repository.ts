import type { UploadFilenameRepository } from "../domain/ports.js";
import type { PrismaClient } from "./prisma.js";

/** The `upload_filenames` table: the name given to POST /v1/uploads, by the upload's key. */
export class PrismaUploadFilenameRepository implements UploadFilenameRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async remember(upload: { key: string; namespace: string; filename: string }): Promise<void> {
    await this.prisma.uploadFilename.upsert({ where: { key: upload.key }, create: upload, update: { filename: upload.filename } });
  }

  async nameOf(namespace: string, key: string): Promise<string | undefined> {
    return (await this.prisma.uploadFilename.findFirst({ where: { key, namespace } }))?.filename;
  }

  async namesOf(namespace: string, keys: readonly string[]): Promise<Map<string, string>> {
    if (keys.length === 0) return new Map();
    const rows = await this.prisma.uploadFilename.findMany({ where: { namespace, key: { in: [...keys] } }, select: { key: true, filename: true } });
    return new Map(rows.map((r) => [r.key, r.filename]));
  }

  async prune(olderThan: Date): Promise<number> {
    return (await this.prisma.uploadFilename.deleteMany({ where: { createdAt: { lt: olderThan } } })).count;
  }
}
