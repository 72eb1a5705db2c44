// The files a browser fetches on a first visit of a page: Debian's Chromium (through the
// end-to-end suite's Playwright, end2end/node_modules) opens URL with a fresh profile and the
// cookie given, waits until the network is idle and the page has hydrated, and prints each
// script, style sheet and wasm (and the document) it fetched from the same origin, one path a
// line: `KIND PATH`. xtask/bench.sh then fetches each with curl, once with `Accept-Encoding: br`
// and once with `gzip`, and counts the bytes as sent.
//
//   node xtask/bench-first-visit.cjs http://127.0.0.1:3400/notes 'access_token=…'
const path = require('node:path');
const { chromium } = require(path.join(__dirname, '..', 'end2end', 'node_modules', 'playwright'));

(async () => {
  const [url, cookie] = process.argv.slice(2);
  const origin = new URL(url).origin;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const context = await browser.newContext();
  if (cookie) {
    const [name, ...value] = cookie.split('=');
    await context.addCookies([{ name, value: value.join('='), url: origin }]);
  }
  const page = await context.newPage();
  const seen = new Map();
  const kinds = { document: 'document', script: 'script', stylesheet: 'style' };
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (u.origin !== origin) return;
    const p = u.pathname + u.search;
    let kind = kinds[req.resourceType()];
    if (u.pathname.endsWith('.wasm')) kind = 'wasm';
    if (kind && !seen.has(p)) seen.set(p, kind);
  });
  await page.goto(url, { waitUntil: 'networkidle' });
  // Hydration has run its imports by now; a moment more for any import it starts late.
  await page.waitForTimeout(1000);
  await browser.close();
  for (const [p, kind] of seen) console.log(`${kind} ${p}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
