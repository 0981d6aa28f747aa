// The pages as HTTP serves them: the shells, the bundles within their size budget, nothing loaded from elsewhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestService, type TestService } from "../support/service";

/** Budgets for what a browser downloads, gzip-compressed (JS + CSS), stated in docs/architecture.md. */
const BUDGET_KB = { fan: 20, admin: 45 };

describe("pages", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ kind: "pglite-memory" });
  }, 30_000);
  afterAll(() => service?.stop());

  for (const [path, name, title] of [["/", "fan", "콘서트 예매"], ["/admin", "admin", "운영 콘솔"]] as const) {
    test(`${path} is a Korean page whose bundle is served from here, within ${BUDGET_KB[name]} KB`, async () => {
      const page = await fetch(`${service.base}${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
      const html = await page.text();
      expect(html).toContain('<html lang="ko">');
      expect(html).toContain(`<title>${title}</title>`);
      // Every script and stylesheet from this origin.
      expect([...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])).toEqual([`/assets/${name}.css`, `/assets/${name}.js`]);

      let gzipped = 0;
      for (const file of [`${name}.js`, `${name}.css`]) {
        const asset = await fetch(`${service.base}/assets/${file}`, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
        expect(asset.status).toBe(200);
        expect(asset.headers.get("content-encoding")).toBe("gzip");
        gzipped += (await asset.arrayBuffer()).byteLength;
        const plain = await (await fetch(`${service.base}/assets/${file}`, { headers: { "accept-encoding": "identity" } })).text();
        // No module, font or stylesheet fetched from another host at run time.
        expect(plain).not.toMatch(/(?:import|from|url)\s*\(?\s*["']https?:\/\//);
      }
      console.error(`${name}: ${(gzipped / 1024).toFixed(1)} KB gzip`);
      expect(gzipped).toBeLessThanOrEqual(BUDGET_KB[name] * 1024);
    });
  }

  test("an unknown asset is 404, and API routes are not shadowed by the pages", async () => {
    expect((await fetch(`${service.base}/assets/../package.json`)).status).toBe(404);
    expect((await fetch(`${service.base}/assets/nope.js`)).status).toBe(404);
    const api = await fetch(`${service.base}/api/v1/concerts`);
    expect(api.status).toBe(401);
  });
});
