import { randomUUID } from "node:crypto";
import type { WebhookSecrets, WebhookSecretView } from "../domain/webhook-ports.js";
import { newWebhookSecret, type SecretBox } from "../outbox/secret-box.js";
import type { PrismaClient } from "./prisma.js";

/** Tenants' signing secrets in webhook_secrets, sealed (api/outbox/secret-box.ts); never logged. */
export class PrismaWebhookSecrets implements WebhookSecrets {
  constructor(private readonly prisma: PrismaClient, private readonly box: SecretBox) {}

  async signingFor(namespace: string): Promise<string[] | undefined> {
    const tenant = await this.prisma.tenant.findUnique({ where: { namespace }, select: { id: true } });
    if (!tenant) return undefined;
    return (await this.list(tenant.id)).map((s) => s.secret);
  }

  async list(tenantId: string): Promise<WebhookSecretView[]> {
    const signing = await this.signing(tenantId);
    if (signing.some((s) => s.retiresAt === null)) return signing;
    // The first one, made when first needed; two replicas at once make one (the partial unique index).
    await this.prisma.$executeRaw`
      INSERT INTO webhook_secrets (id, tenant_id, ciphertext) VALUES (${randomUUID()}::uuid, ${tenantId}::uuid, ${this.box.seal(newWebhookSecret())})
      ON CONFLICT (tenant_id) WHERE retires_at IS NULL DO NOTHING`;
    return this.signing(tenantId);
  }

  async rotate(tenantId: string, graceSeconds: number): Promise<WebhookSecretView[]> {
    const retiresAt = new Date(Date.now() + graceSeconds * 1000);
    await this.prisma.$transaction([
      this.prisma.webhookSecret.updateMany({ where: { tenantId, retiresAt: null }, data: { retiresAt } }),
      this.prisma.webhookSecret.create({ data: { id: randomUUID(), tenantId, ciphertext: this.box.seal(newWebhookSecret()) } }),
    ]);
    return this.signing(tenantId);
  }

  private async signing(tenantId: string): Promise<WebhookSecretView[]> {
    const rows = await this.prisma.webhookSecret.findMany({
      where: { tenantId, OR: [{ retiresAt: null }, { retiresAt: { gt: new Date() } }] },
      orderBy: { createdAt: "desc" },
    });
    // The current one first, then the retiring ones, newest first.
    const ordered = [...rows.filter((r) => r.retiresAt === null), ...rows.filter((r) => r.retiresAt !== null)];
    return ordered.map((r) => ({ secret: this.box.open(r.ciphertext), createdAt: r.createdAt, retiresAt: r.retiresAt }));
  }
}
