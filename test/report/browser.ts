// Headless Chromium for the report's browser test, driven by playwright-core (no browser download at test time): the
// binary that ships inside the npm package @sparticuz/chromium (a devDependency, unpacked to the temp dir on first
// use), or XAI_CHROMIUM, or Debian's /usr/bin/chromium when the package cannot run here. A fresh profile per launch,
// no network features.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SYSTEM = '/usr/bin/chromium';

/** The Chromium to launch: XAI_CHROMIUM, else the npm package's binary, else the system's; undefined when none. */
async function chromiumPath(): Promise<{ path: string; from: string } | { error: string }> {
  if (process.env.XAI_CHROMIUM) return existsSync(process.env.XAI_CHROMIUM) ? { path: process.env.XAI_CHROMIUM, from: 'XAI_CHROMIUM' } : { error: `XAI_CHROMIUM=${process.env.XAI_CHROMIUM} not found` };
  let why = '';
  try {
    const { default: chromium } = await import('@sparticuz/chromium');
    return { path: await chromium.executablePath(), from: '@sparticuz/chromium' };
  } catch (e) {
    why = (e as Error).message.split('\n')[0];
  }
  if (existsSync(SYSTEM)) return { path: SYSTEM, from: SYSTEM };
  return { error: `no Chromium: @sparticuz/chromium failed (${why}) and ${SYSTEM} is absent (npm ci installs the package; or set XAI_CHROMIUM)` };
}

let found: Promise<{ path: string; from: string } | { error: string }> | undefined;
const resolveChromium = () => (found ??= chromiumPath());

/** Why no browser can run here, or undefined. */
export async function chromiumMissing(): Promise<string | undefined> {
  const c = await resolveChromium();
  return 'error' in c ? c.error : undefined;
}

/** Launches headless Chromium; `close()` also removes the profile directory. */
export async function launch() {
  const c = await resolveChromium();
  if ('error' in c) throw new Error(c.error);
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'xai-chromium-'));
  // a fresh --user-data-dir: playwright takes it as the persistent context's directory
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: c.path,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--no-zygote',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    from: c.from,
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
