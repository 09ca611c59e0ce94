// Known-answer vectors for pkg/e2ee, made by livekit-client's own frame
// cryptor and key derivation (the pinned version in node_modules) on
// Node.js's WebCrypto. Run with `make e2ee-kat`; it writes
// pkg/e2ee/testdata/kat.json.
import { writeFileSync } from 'node:fs';
import { FrameCryptor, encryptionEnabledMap } from '../node_modules/livekit-client/src/e2ee/worker/FrameCryptor';
import { ParticipantKeyHandler } from '../node_modules/livekit-client/src/e2ee/worker/ParticipantKeyHandler';
import { KEY_PROVIDER_DEFAULTS } from '../node_modules/livekit-client/src/e2ee/constants';
import {
  createKeyMaterialFromBuffer,
  createKeyMaterialFromString,
  ratchet,
} from '../node_modules/livekit-client/src/e2ee/utils';

const hex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');
const enc = new TextEncoder();
const salt = enc.encode(KEY_PROVIDER_DEFAULTS.ratchetSalt);

async function aesKey(kdf: 'PBKDF2' | 'HKDF', material: Uint8Array): Promise<string> {
  const base = await crypto.subtle.importKey('raw', material, kdf, false, ['deriveBits']);
  const params =
    kdf === 'PBKDF2'
      ? { name: 'PBKDF2', salt, hash: 'SHA-256', iterations: 100000 }
      : { name: 'HKDF', salt, hash: 'SHA-256', info: new ArrayBuffer(128) };
  return hex(await crypto.subtle.deriveBits(params, base, 128));
}

const passphrase = 'correct horse battery staple';
const raw = Uint8Array.from({ length: 32 }, (_, i) => i);

async function keys() {
  const out: any[] = [];
  for (const [kdf, material] of [
    ['PBKDF2', enc.encode(passphrase)],
    ['HKDF', raw],
  ] as const) {
    const cryptoKey =
      kdf === 'PBKDF2' ? await createKeyMaterialFromString(passphrase) : await createKeyMaterialFromBuffer(raw.buffer);
    const ratcheted = new Uint8Array(await ratchet(cryptoKey, KEY_PROVIDER_DEFAULTS.ratchetSalt));
    out.push({
      kdf,
      material: hex(material),
      key: await aesKey(kdf, material),
      ratchet: hex(ratcheted),
      ratchetKey: await aesKey(kdf, ratcheted),
    });
  }
  return out;
}

// One frame of each codec, as an encoder hands it to the sender.
const frames: Record<string, { mime?: string; type?: 'key' | 'delta'; data: Uint8Array }> = {
  opus: { data: Uint8Array.from([0x78, ...Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff)]) },
  vp8key: { mime: 'video/VP8', type: 'key', data: Uint8Array.from([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, ...Array.from({ length: 60 }, (_, i) => (i * 13 + 5) & 0xff)]) },
  vp8delta: { mime: 'video/VP8', type: 'delta', data: Uint8Array.from([0x31, 0x07, 0x00, ...Array.from({ length: 50 }, (_, i) => (i * 7 + 1) & 0xff)]) },
  vp9: { mime: 'video/VP9', type: 'key', data: Uint8Array.from([0x82, 0x49, 0x83, 0x42, ...Array.from({ length: 40 }, (_, i) => (i * 11) & 0xff)]) },
  // SPS, PPS (3-byte start code) and an IDR slice whose payload has zeros
  // that the ciphertext's escaping must not confuse.
  h264: {
    mime: 'video/H264',
    type: 'key',
    data: Uint8Array.from([
      0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8,
      0, 0, 1, 0x68, 0xce, 0x3c, 0x80,
      0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x00, 0x03, 0x00, 0x21, ...Array.from({ length: 64 }, (_, i) => (i % 5 === 0 ? 0 : i)),
    ]),
  },
  h265: {
    mime: 'video/H265',
    type: 'key',
    data: Uint8Array.from([
      0, 0, 0, 1, 0x40, 0x01, 0x0c, 0x01, 0xff, 0xff,
      0, 0, 0, 1, 0x42, 0x01, 0x01, 0x01, 0x60,
      0, 0, 0, 1, 0x44, 0x01, 0xc1, 0x72,
      0, 0, 0, 1, 0x26, 0x01, 0xaf, 0x06, ...Array.from({ length: 48 }, (_, i) => (i % 4 === 0 ? 0 : i * 3)),
    ]),
  },
};

async function encryptFrames() {
  encryptionEnabledMap.set('alice', true);
  const handler = new ParticipantKeyHandler('alice', KEY_PROVIDER_DEFAULTS);
  const keyIndex = 3;
  await handler.setKey(await createKeyMaterialFromString(passphrase), keyIndex);
  const cryptor: any = new FrameCryptor({
    keys: handler,
    participantIdentity: 'alice',
    keyProviderOptions: KEY_PROVIDER_DEFAULTS,
  });
  const out: any[] = [];
  for (const [name, f] of Object.entries(frames)) {
    const frame: any = {
      data: f.data.slice().buffer,
      timestamp: 90000,
      getMetadata: () => ({ synchronizationSource: 0x11223344, payloadType: 96, mimeType: f.mime }),
    };
    if (f.type) frame.type = f.type;
    if (f.mime) cryptor.videoCodec = f.mime.split('/')[1].toLowerCase();
    let encrypted: any;
    await cryptor.encodeFunction(frame, { enqueue: (e: any) => (encrypted = e) });
    if (!encrypted) throw new Error(`${name}: not encrypted`);
    out.push({ name, passphrase, keyIndex, plain: hex(f.data), encrypted: hex(encrypted.data) });
  }
  return out;
}

const kat = {
  source: 'livekit-client FrameCryptor and key derivation, Node.js WebCrypto (interop/peer/kat/gen.ts)',
  ratchetSalt: KEY_PROVIDER_DEFAULTS.ratchetSalt,
  keys: await keys(),
  frames: await encryptFrames(),
};
writeFileSync(process.argv[2], JSON.stringify(kat, null, 2) + '\n');
