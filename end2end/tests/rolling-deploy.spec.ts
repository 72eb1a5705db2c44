import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { PASSWORD, uniqueEmail, waitForAccessExpiry, waitForHydration } from './helpers';

// A deployment as it runs: two instances on one PostgreSQL database behind a round-robin proxy
// written here (every request forwarded, Set-Cookie untouched, alternating instances; a request
// an instance refuses at connect goes to the other, as a balancer's health check would arrange).
// Browser tabs stay signed in and working while instance 1 restarts, then instance 2, then the
// signing key rotates in the two steps the README describes. Needs TEST_DATABASE_URL (.ci/run
// sets it); skipped without.

const admin = process.env.TEST_DATABASE_URL;
const root = path.resolve(__dirname, '..', '..');
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, 'target');
const OLD_KEY = 'rolling-deploy-old-signing-key-0123456789abcdef';
const NEW_KEY = 'rolling-deploy-new-signing-key-0123456789abcdef';

test.skip(!admin, 'TEST_DATABASE_URL is not set');
test.describe.configure({ mode: 'serial', timeout: 240_000 });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A fresh database on the test cluster, named t_… so .ci/run drops it on its next run. */
function createDatabase(): string {
  const name = `t_e2e_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  execFileSync('psql', [admin!, '-qc', `CREATE DATABASE ${name}`]);
  return admin!.replace(/\/[^/]*$/, `/${name}`);
}

class Instance {
  child?: ChildProcess;
  log = '';
  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  async start(keys: { secret: string; accepted?: string }): Promise<void> {
    this.child = spawn(path.join(targetDir, 'debug', 'server'), [], {
      cwd: root,
      env: {
        ...process.env,
        ...this.env,
        LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}`,
        JWT_SECRET: keys.secret,
        JWT_ACCEPTED_SECRETS: keys.accepted ?? '',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr!.on('data', (d) => (this.log += d.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const up = await fetch(`http://127.0.0.1:${this.port}/healthz`).then((r) => r.ok, () => false);
      if (up) return;
      if (Date.now() > deadline) throw new Error(`instance on ${this.port} did not start:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }

  async restart(keys: { secret: string; accepted?: string }): Promise<void> {
    await this.stop();
    await this.start(keys);
  }
}

/** Round-robin over the instances; counts what each one answered. */
function startProxy(port: number, upstreams: number[]) {
  const served = upstreams.map(() => 0);
  const refreshes = { count: 0 };
  let next = 0;
  const forward = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, tries: number) => {
    const at = next++ % upstreams.length;
    const up = http.request(
      { host: '127.0.0.1', port: upstreams[at], method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        served[at]++;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => {
      if (tries > 1 && !res.headersSent) forward(req, body, res, tries - 1);
      else if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    up.end(body);
  };
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/api/auth/refresh')) refreshes.count++;
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => forward(req, Buffer.concat(chunks), res, upstreams.length * 2));
  });
  return new Promise<Proxy>((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve({ served, refreshes, close: () => new Promise((r) => server.close(() => r())) }),
    ),
  );
}

let one: Instance;
let two: Instance;
type Proxy = { served: number[]; refreshes: { count: number }; close: () => Promise<void> };
let proxy: Proxy;
let proxyUrl: string;

test.beforeAll(async () => {
  const database = createDatabase();
  const [p1, p2, pp] = [await freePort(), await freePort(), await freePort()];
  proxyUrl = `http://127.0.0.1:${pp}`;
  const env = {
    LEPTOS_SITE_ROOT: path.join(root, 'target', 'site'),
    LEPTOS_SITE_PKG_DIR: 'pkg',
    LEPTOS_OUTPUT_NAME: 'app',
    LEPTOS_ENV: 'PROD',
    DATABASE_URL: database,
    PUBLIC_URL: proxyUrl,
    ACCESS_TOKEN_TTL: '2s',
    JWT_LEEWAY: '0s',
    AUTH_RATE_LIMIT_PER_ADDRESS: '1000/1m',
    RUST_LOG: 'info,sqlx=warn',
  };
  one = new Instance(p1, env);
  two = new Instance(p2, env);
  await one.start({ secret: OLD_KEY });
  await two.start({ secret: OLD_KEY });
  proxy = await startProxy(pp, [p1, p2]);
});

test.afterAll(async () => {
  await proxy?.close();
  await one?.stop();
  await two?.stop();
});

/** Adds a note and waits until the tab's list shows it. The title must match whole: `hasText`
 * matches a substring, and "switched one" would be found in "half switched one" before the
 * create had finished, letting the step go on while the note is still on its way. */
async function addNote(page: Page, title: string) {
  await page.getByTestId('note-title').fill(title);
  await page.getByTestId('note-submit').click();
  await expect(page.getByTestId('note-title-text').getByText(title, { exact: true })).toHaveCount(1);
}

test('tabs stay signed in through two restarts and a two-step key rotation', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: proxyUrl });
  const tab = await context.newPage();
  const email = uniqueEmail('rolling');
  expect((await tab.request.post('/api/auth/register', { data: { email, password: PASSWORD } })).status()).toBe(201);
  const other = await context.newPage();
  for (const p of [tab, other]) {
    await p.goto('/notes');
    await waitForHydration(p);
  }
  let created = 0;
  // Each step: let the access token run out, then work in both tabs (navigation, create, edit).
  const work = async (step: string) => {
    await waitForAccessExpiry(context);
    await addNote(tab, `${step} one`);
    await addNote(other, `${step} two`);
    created += 2;
    await other.getByRole('link', { name: 'Devices', exact: true }).click();
    await expect(other).toHaveURL(/\/sessions$/);
    await other.getByRole('link', { name: 'Notes', exact: true }).click();
    await expect(other.getByTestId('note-title-text')).toHaveCount(created);
  };

  await work('start');
  const first = tab.getByTestId('note').first();
  await first.getByTestId('edit-note').click();
  await first.getByTestId('edit-title').fill('edited before the deploy');
  await first.getByTestId('save-note').click();
  await expect(tab.getByTestId('note-title-text').filter({ hasText: 'edited before the deploy' })).toHaveCount(1);

  await one.restart({ secret: OLD_KEY });
  await work('after one restarted');
  await two.restart({ secret: OLD_KEY });
  await work('after two restarted');
  // Key rotation, step 1: every instance accepts the new key; step 2: it signs, the old one verifies.
  await one.restart({ secret: OLD_KEY, accepted: NEW_KEY });
  await two.restart({ secret: OLD_KEY, accepted: NEW_KEY });
  await work('new key announced');
  await one.restart({ secret: NEW_KEY, accepted: OLD_KEY });
  await work('half switched');
  await two.restart({ secret: NEW_KEY, accepted: OLD_KEY });
  await work('switched');

  // The tab's list has only what it loaded itself: reload it to see the other tab's notes too,
  // so the count below can only drop once the delete has been applied. The delete is clicked once
  // the page is hydrated, so it goes through the browser layer (before, it is a plain form post).
  await tab.reload();
  await waitForHydration(tab);
  await expect(tab.getByTestId('note-title-text')).toHaveCount(created);
  await tab.getByTestId('note').first().getByTestId('delete-note').click();
  created -= 1;
  await expect(tab.getByTestId('note-title-text')).toHaveCount(created);
  await tab.reload();
  await expect(tab.getByTestId('note-title-text')).toHaveCount(created);
  for (const p of [tab, other]) {
    await expect(p).toHaveURL(/\/(notes|sessions)$/);
    await expect(p.getByTestId('signed-in-as')).toContainText(email);
  }
  const log = one.log + two.log;
  expect(log).not.toContain('refresh_token_reuse');
  console.log(
    `rolling deploy: requests per instance ${proxy.served.join(' / ')}, browser refreshes ` +
      `${proxy.refreshes.count}, notes left ${created}, sign-outs 0`,
  );
  await context.close();
});

async function loginBody(api: APIRequestContext, base: string, email: string) {
  const res = await api.post(`${base}/api/auth/login`, { data: { email, password: PASSWORD, transport: 'body' } });
  expect(res.status()).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string };
}

test('a revocation on one instance is refused by the other within 1 s', async ({ playwright }) => {
  const api = await playwright.request.newContext();
  const [a, b] = [`http://127.0.0.1:${one.port}`, `http://127.0.0.1:${two.port}`];
  const email = uniqueEmail('revoke');
  expect((await api.post(`${a}/api/auth/register`, { data: { email, password: PASSWORD } })).status()).toBe(201);
  const { access_token } = await loginBody(api, a, email);
  const me = (base: string) => api.get(`${base}/api/me`, { headers: { authorization: `Bearer ${access_token}` } });
  expect((await me(b)).status()).toBe(200);
  const revoked = (
    await api.post(`${a}/api/auth/logout-all`, { headers: { authorization: `Bearer ${access_token}` } })
  ).status();
  expect(revoked).toBe(204);
  const started = Date.now();
  while ((await me(b)).status() !== 401) {
    expect(Date.now() - started).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log(`revocation reached the other instance in ${Date.now() - started} ms`);
  await api.dispose();
});

test('parallel refreshes of one token spread over both instances share one successor', async ({ playwright }) => {
  const api = await playwright.request.newContext();
  const bases = [`http://127.0.0.1:${one.port}`, `http://127.0.0.1:${two.port}`];
  const email = uniqueEmail('spread');
  expect((await api.post(`${bases[0]}/api/auth/register`, { data: { email, password: PASSWORD } })).status()).toBe(201);
  const { refresh_token } = await loginBody(api, bases[0], email);
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      api.post(`${bases[i % 2]}/api/auth/refresh`, { data: { refresh_token } }),
    ),
  );
  const successors = new Set<string>();
  for (const res of answers) {
    expect(res.status()).toBe(200);
    successors.add((await res.json()).refresh_token);
  }
  expect(successors.size).toBe(1);
  const again = await api.post(`${bases[1]}/api/auth/refresh`, { data: { refresh_token: [...successors][0] } });
  expect(again.status()).toBe(200);
  await api.dispose();
});
