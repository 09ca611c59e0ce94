// The "browser" peer's host side: it bundles page/peer.js (livekit-client)
// with esbuild, serves it from a loopback HTTP server, opens it in Debian's
// headless Chromium through playwright-core, and forwards each command into
// the page.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

// Flags for a closed network: no background requests, no QUIC, no
// component or sync updates, fake capture devices that need no prompt.
// playwright-core adds --headless and a fresh temporary --user-data-dir.
const chromiumArgs = [
  '--no-sandbox',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-gpu',
  '--disable-quic',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

const verbose = !!process.env.LKSDK_INTEROP_VERBOSE;
// Chromium's own log (WebRTC's receive path, for one) for the modules
// named; Playwright passes it on with DEBUG=pw:browser.
if (process.env.LKSDK_INTEROP_CHROME_VMODULE) {
  chromiumArgs.push('--enable-logging=stderr', '--v=0', `--vmodule=${process.env.LKSDK_INTEROP_CHROME_VMODULE}`);
}

export class BrowserPeer {
  constructor(emit) {
    this.emit = emit;
    this.files = new Map(); // token -> path the page may fetch
  }

  async start() {
    const bundle = await esbuild.build({
      entryPoints: [path.join(here, 'page', 'peer.js')],
      bundle: true,
      format: 'esm',
      target: 'es2022',
      write: false,
      logLevel: 'warning',
    });
    const js = bundle.outputFiles[0].text;
    // livekit-client's end-to-end encryption runs in this worker; the page
    // starts it from here.
    const worker = fs.readFileSync(
      path.join(here, 'node_modules', 'livekit-client', 'dist', 'livekit-client.e2ee.worker.mjs'),
    );
    const html = '<!doctype html><html><head><meta charset="utf-8"><title>interop peer</title></head>' +
      '<body><script>window.__e2eeWorkerURL = "/e2ee-worker.mjs";</script>' +
      '<script type="module" src="/peer.js"></script></body></html>';
    this.server = http.createServer((req, res) => this.serve(req, res, html, js, worker));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.base = `http://127.0.0.1:${this.server.address().port}`;

    this.browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
      headless: true,
      args: chromiumArgs,
    });
    this.context = await this.browser.newContext();
    this.page = await this.context.newPage();
    this.page.on('console', (msg) => {
      if (verbose || msg.type() === 'error' || msg.type() === 'warning') {
        console.error(`[page ${msg.type()}] ${msg.text()}`);
      }
    });
    this.page.on('pageerror', (err) => console.error('[page error]', err));
    await this.page.exposeFunction('__emit', (name, data) => this.emit(name, data));
    await this.page.goto(`${this.base}/`);
    await this.page.waitForFunction(() => !!window.peer, null, { timeout: 30000 });
  }

  serve(req, res, html, js, worker) {
    const url = new URL(req.url, this.base);
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    } else if (url.pathname === '/peer.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    } else if (url.pathname === '/e2ee-worker.mjs') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(worker);
    } else if (url.pathname === '/file' && this.files.has(url.searchParams.get('t'))) {
      const file = this.files.get(url.searchParams.get('t'));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      fs.createReadStream(file).pipe(res);
    } else if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  }

  async handle(cmd, args) {
    if (cmd === 'sendFile') {
      // The page cannot read the file system: it fetches the file from us.
      const token = crypto.randomBytes(8).toString('hex');
      this.files.set(token, args.path);
      const { path: _, ...rest } = args;
      try {
        return await this.forward(cmd, { ...rest, url: `${this.base}/file?t=${token}` });
      } finally {
        this.files.delete(token);
      }
    }
    return this.forward(cmd, args);
  }

  async forward(cmd, args) {
    const out = await this.page.evaluate(
      async ([cmd, args]) => {
        try {
          return { result: await window.peer.handle(cmd, args) };
        } catch (e) {
          return { error: { message: String(e?.message ?? e), code: e?.code, data: e?.data, name: e?.name } };
        }
      },
      [cmd, args],
    );
    if (out.error) {
      const err = new Error(out.error.message);
      if (typeof out.error.code === 'number') err.code = out.error.code;
      if (typeof out.error.data === 'string') err.data = out.error.data;
      if (out.error.name) err.name = out.error.name;
      throw err;
    }
    return out.result;
  }

  async close() {
    try {
      await this.forward('leave', {});
    } catch {}
    await this.browser?.close().catch(() => {});
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve()));
  }
}
