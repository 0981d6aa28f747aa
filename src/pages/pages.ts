// The fans' page at `/` and the operators' console at `/admin`: two HTML shells and their bundles, built by Bun from
// src/pages/web the first time a page is asked for, then served from memory (gzip when the browser takes it). The
// pages load nothing from elsewhere (the Content-Security-Policy says so) and talk to the service only through the
// JSON API.
import { basename, join } from "node:path";
import { log } from "../shared/log";

const WEB = join(import.meta.dir, "web");
const ENTRIES = ["fan.ts", "admin.ts"];

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer>;
  type: string;
}

const SECURITY = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

function shell(name: "fan" | "admin", title: string): string {
  return `<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/assets/${name}.css">
<script type="module" src="/assets/${name}.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`;
}

const PAGES: Record<string, string> = {
  "/": shell("fan", "콘서트 예매"),
  "/admin": shell("admin", "운영 콘솔"),
};

let bundle: Promise<Map<string, Asset>> | undefined;

/** The bundles by file name (fan.js, fan.css, admin.js, admin.css); built once per process. */
export function assets(): Promise<Map<string, Asset>> {
  bundle ??= build().catch((error) => {
    bundle = undefined;
    throw error;
  });
  return bundle;
}

async function build(): Promise<Map<string, Asset>> {
  const started = performance.now();
  const result = await Bun.build({ entrypoints: ENTRIES.map((entry) => join(WEB, entry)), target: "browser", minify: true, naming: "[name].[ext]" });
  if (!result.success) throw new AggregateError(result.logs, "the pages did not bundle");
  const built = new Map<string, Asset>();
  for (const output of result.outputs) {
    const body = new Uint8Array(await output.arrayBuffer());
    built.set(basename(output.path), { body, gzip: new Uint8Array(Bun.gzipSync(body)), type: output.type });
  }
  log.info("pages bundled", { ms: Math.round(performance.now() - started), files: [...built.keys()] });
  return built;
}

/** The page or asset at `pathname`, or undefined when the path is not one of the pages'. */
export function pages(request: Request, pathname: string): Promise<Response> | Response | undefined {
  const page = PAGES[pathname === "/admin/" ? "/admin" : pathname];
  if (page) return new Response(page, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache", ...SECURITY } });
  if (!pathname.startsWith("/assets/")) return undefined;
  return assets().then((all) => {
    const asset = all.get(pathname.slice("/assets/".length));
    if (!asset) return new Response("Not Found", { status: 404 });
    const gzip = request.headers.get("accept-encoding")?.includes("gzip") ?? false;
    return new Response(gzip ? asset.gzip : asset.body, {
      headers: { "content-type": asset.type, "cache-control": "no-cache", ...(gzip && { "content-encoding": "gzip" }), ...SECURITY },
    });
  });
}
