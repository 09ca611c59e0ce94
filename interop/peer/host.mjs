// Peer host for the Go SDK's interop tests.
//
// The Go test starts `node host.mjs --kind node|browser`, writes commands to
// its standard input as JSON lines, and reads replies and events as JSON
// lines from file descriptor 3 (standard output is left to the libraries'
// own logging, which would otherwise mix with the protocol):
//
//   command: {"id": 1, "cmd": "join", "args": {...}}
//   reply:   {"id": 1, "result": {...}}
//            {"id": 1, "error": {"message": "...", "code": 1500, "data": "..."}}
//   event:   {"event": "data", "data": {...}}
//
// Commands run concurrently (a slow one, such as an RPC waiting for its
// timeout, does not hold up the next); a caller that needs order waits for
// the reply before sending the next command. Events are written as they
// happen. The host exits when its standard input closes, after leaving the
// room.
import fs from 'node:fs';
import readline from 'node:readline';

const kindIndex = process.argv.indexOf('--kind');
const kind = kindIndex > 0 ? process.argv[kindIndex + 1] : '';

function write(msg) {
  fs.writeSync(3, JSON.stringify(msg) + '\n');
}

function emit(event, data) {
  write({ event, data });
}

function errorReply(err) {
  const e = { message: String(err?.message ?? err) };
  if (typeof err?.code === 'number') e.code = err.code;
  if (typeof err?.data === 'string') e.data = err.data;
  if (err?.name) e.name = err.name;
  return e;
}

async function main() {
  let peer;
  if (kind === 'node') {
    const { NodePeer } = await import('./node-peer.mjs');
    peer = new NodePeer(emit);
  } else if (kind === 'browser') {
    const { BrowserPeer } = await import('./browser-peer.mjs');
    peer = new BrowserPeer(emit);
  } else {
    throw new Error(`unknown --kind ${JSON.stringify(kind)}: want node or browser`);
  }
  await peer.start();
  write({ event: 'ready', data: { kind } });

  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const running = new Set();
  for await (const line of rl) {
    if (!line.trim()) continue;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (err) {
      write({ id: -1, error: { message: `bad command line: ${err.message}` } });
      continue;
    }
    const p = (async () => {
      try {
        const result = await peer.handle(msg.cmd, msg.args ?? {});
        write({ id: msg.id, result: result ?? {} });
      } catch (err) {
        write({ id: msg.id, error: errorReply(err) });
      }
    })();
    running.add(p);
    p.finally(() => running.delete(p));
  }
  await Promise.allSettled([...running]);
  await peer.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('peer host failed:', err);
    try {
      write({ event: 'fatal', data: { message: String(err?.stack ?? err) } });
    } catch {}
    process.exit(1);
  },
);
