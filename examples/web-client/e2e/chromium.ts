// Debian's Chromium, headless, with the flags this closed network needs (no background
// connections to Google's hosts).
import { chromium, type Browser } from 'playwright-core';

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export function fail(message: string): never {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}
