// Drives e2e/page.ts in headless Chromium from another origin than the API's (a page on
// http://localhost:<own port> calling http://127.0.0.1:<api port>): CORS, login, an inbox page,
// a mutation and a subscription event over WebSocket, as a web client lives them.
//   QYZMET_URL=http://127.0.0.1:8080 QYZMET_DEMO_PASSWORD=… npm run browser
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';

import { fail, launch } from './chromium';

const api = process.env['QYZMET_URL'] ?? 'http://127.0.0.1:8080';
const password = process.env['QYZMET_DEMO_PASSWORD'] ?? '';
const script = await readFile(new URL('./page.js', import.meta.url));
const html = '<!DOCTYPE html><meta charset="utf-8"><title>qyzmet example</title><pre id="log"></pre><script type="module" src="/page.js"></script>';
const server = createServer((req, res) => {
  if (req.url?.startsWith('/page.js')) {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
  } else {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  }
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const pageOrigin = `http://localhost:${port}`;
if (new URL(api).origin === pageOrigin) fail('the page must be on another origin');

const browser = await launch();
try {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('requestfailed', (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
  await page.goto(`${pageOrigin}/?api=${encodeURIComponent(api)}&password=${encodeURIComponent(password)}`);
  await page.waitForSelector('body[data-done]', { timeout: 30_000 });
  const steps = JSON.parse((await page.getAttribute('body', 'data-steps')) ?? '[]') as string[];
  const error = await page.getAttribute('body', 'data-error');
  console.log(steps.join('\n'));
  if (error) fail(`${error}; browser said: ${problems.join(' | ')}`);
  const registered = steps.find((s) => s.startsWith('registered '))?.slice('registered '.length);
  const want = ['login mangystau-head', 'login mangystau-clerk', `event ENTERED ${registered}`];
  for (const w of want) if (!steps.includes(w)) fail(`missing step ${w}: ${steps.join(', ')}`);
  if (!steps.some((s) => s.startsWith('inbox '))) fail('no inbox page');
  console.log(`ok: a page on ${pageOrigin} used the API on ${new URL(api).origin}`);
} finally {
  await browser.close();
  server.close();
}
