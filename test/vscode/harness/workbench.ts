/**
 * The VS Code web workbench of a running code-server, opened in Debian's
 * headless Chromium through playwright-core (no downloaded browser).
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import type { CodeServer } from './code-server';

const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface WorkbenchOptions {
  workspace: string;
  /** Folder of the extension to run in development mode (the repository for the tests). */
  extensionDevelopmentPath?: string;
  /** Module exporting run() that the extension host runs as the test runner. */
  extensionTestsPath?: string;
  /** Extension-host console output (mocha's report among it). */
  onLog?: (level: string, text: string) => void;
  viewport?: { width: number; height: number };
}

export class Workbench {
  /** Settles with the test runner's exit code (0 = passed) once the tests end. */
  readonly exitCode: Promise<number>;
  private resolveExit!: (code: number) => void;

  private constructor(
    readonly browser: Browser,
    readonly page: Page,
  ) {
    this.exitCode = new Promise((resolve) => (this.resolveExit = resolve));
  }

  static async open(server: CodeServer, opts: WorkbenchOptions): Promise<Workbench> {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: chromiumArgs });
    try {
      const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1400, height: 900 } });
      const wb = new Workbench(browser, page);
      // A crashed page or browser never reports an exit code: fail the run now rather than at its timeout.
      page.on('crash', () => {
        opts.onLog?.('error', 'the workbench page crashed');
        wb.resolveExit(1);
      });
      browser.on('disconnected', () => wb.resolveExit(1));
      // The workbench calls these when it runs extension tests (automation mode).
      await page.exposeFunction('codeAutomationExit', (code: number) => wb.resolveExit(code));
      await page.exposeFunction('codeAutomationLog', (level: string, args: unknown) => {
        opts.onLog?.(String(level), formatLogArgs(args));
      });
      await page.goto(workbenchUrl(server, opts), { waitUntil: 'domcontentloaded', timeout: 60_000 });
      return wb;
    } catch (e) {
      await browser.close().catch(() => {});
      throw e;
    }
  }

  /** Resolves once the workbench shell is on screen (activity bar rendered). */
  async ready(timeoutMs = 60_000): Promise<void> {
    await this.page.locator('.monaco-workbench .activitybar').first().waitFor({ state: 'visible', timeout: timeoutMs });
  }

  /** Ends the wait for the exit code with a failure (the run cannot complete). */
  fail(): void {
    this.resolveExit(1);
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => {});
  }
}

/** The workbench's address for a window on `opts.workspace`, with the extension (and test runner) to load. */
export function workbenchUrl(server: CodeServer, opts: Pick<WorkbenchOptions, 'workspace' | 'extensionDevelopmentPath' | 'extensionTestsPath'>): string {
  const payload: [string, string][] = [];
  if (opts.extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', server.remoteUri(opts.extensionDevelopmentPath)]);
  if (opts.extensionTestsPath) payload.push(['extensionTestsPath', server.remoteUri(opts.extensionTestsPath)]);
  return `${server.origin}/?folder=${encodeURIComponent(opts.workspace)}` + (payload.length ? `&payload=${encodeURIComponent(JSON.stringify(payload))}` : '');
}

/** The log hook receives console arguments as the workbench serialised them (strings or an array of them). */
function formatLogArgs(args: unknown): string {
  const parts = Array.isArray(args) ? args : [args];
  return parts.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
}
