import fs from 'node:fs';
import path from 'node:path';

/** Saves the notes server's metrics after the suite (before Playwright stops the server), so a
 * run shows what the engine counted: target/e2e-metrics.txt, and the sessionflow_ totals here. */
export default async function globalTeardown() {
  const url = `http://127.0.0.1:${process.env.E2E_METRICS_PORT}/metrics`;
  const text = await fetch(url).then((r) => (r.ok ? r.text() : ''), () => '');
  if (!text) return;
  const out = path.resolve(__dirname, '..', 'target', 'e2e-metrics.txt');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, text);
  const totals = text.split('\n').filter((l) => /^sessionflow_\w+_total\{/.test(l));
  console.log(`metrics after the suite (${out}):\n${totals.join('\n')}`);
}
