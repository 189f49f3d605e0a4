// GraphiQL with nothing but the server: every request to another host is blocked (and would
// fail the run), the documentation explorer opens on the schema, and a screenshot is written
// to artifacts/graphiql-offline.png for a reviewer to look at.
//   QYZMET_URL=http://127.0.0.1:8080 npm run screenshot
import { mkdir } from 'node:fs/promises';

import { fail, launch } from './chromium';

const api = new URL(process.env['QYZMET_URL'] ?? 'http://127.0.0.1:8080');
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const elsewhere: string[] = [];
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === api.host) return route.continue();
    elsewhere.push(url.href);
    return route.abort();
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL('/graphql', api).href);
  await page.waitForSelector('.graphiql-container', { timeout: 30_000 });
  await page.getByRole('button', { name: /documentation explorer/i }).first().click();
  await page.getByText('Root Types', { exact: false }).first().waitFor({ timeout: 30_000 });
  await page.getByText('Query', { exact: true }).first().click();
  await page.getByText('inbox', { exact: false }).first().waitFor({ timeout: 10_000 });
  await mkdir('artifacts', { recursive: true });
  await page.screenshot({ path: 'artifacts/graphiql-offline.png' });
  if (elsewhere.length > 0) fail(`GraphiQL asked other hosts: ${elsewhere.join(', ')}`);
  if (errors.length > 0) fail(`page errors: ${errors.join(' | ')}`);
  console.log('ok: GraphiQL showed the schema docs with no host but the server (artifacts/graphiql-offline.png)');
} finally {
  await browser.close();
}
