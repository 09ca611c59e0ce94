// The "browser" peer: a participant on livekit-client, running in headless
// Chromium. browser-peer.mjs bundles this file, serves it on loopback and
// forwards the commands of host.mjs to window.peer.handle; events go back
// through window.__emit.
import {
  ParticipantKind,
  Room,
  RoomEvent,
  RpcError,
  Track,
  createLocalTracks,
} from 'livekit-client';

const kindNames = {
  [ParticipantKind.STANDARD]: 'standard',
  [ParticipantKind.INGRESS]: 'ingress',
  [ParticipantKind.EGRESS]: 'egress',
  [ParticipantKind.SIP]: 'sip',
  [ParticipantKind.AGENT]: 'agent',
};

function emit(name, data) {
  window.__emit(name, data);
}

function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

async function sha256(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function concat(chunks) {
  const size = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

class BrowserPeer {
  constructor() {
    this.room = null;
    this.tracks = new Map(); // track sid -> {report, track}
    this.local = [];
  }

  async handle(cmd, args) {
    const f = this[`cmd_${cmd}`];
    if (typeof f !== 'function') throw new Error(`unknown command ${JSON.stringify(cmd)}`);
    return f.call(this, args);
  }

  requireRoom() {
    if (!this.room || this.room.state !== 'connected') throw new Error('not connected: send join first');
    return this.room;
  }

  participantReport(p) {
    return {
      identity: p.identity,
      sid: p.sid ?? '',
      name: p.name ?? '',
      metadata: p.metadata ?? '',
      kind: kindNames[p.kind] ?? String(p.kind),
      attributes: { ...p.attributes },
    };
  }

  participants() {
    return [...(this.room?.remoteParticipants.values() ?? [])].map((p) => this.participantReport(p));
  }

  async cmd_join({ url, token, autoSubscribe = true }) {
    const room = new Room({ adaptiveStream: false, dynacast: false });
    this.room = room;
    room
      .on(RoomEvent.ParticipantConnected, (p) => emit('participantConnected', this.participantReport(p)))
      .on(RoomEvent.ParticipantDisconnected, (p) => emit('participantDisconnected', { identity: p.identity }))
      .on(RoomEvent.ParticipantAttributesChanged, (changed, p) =>
        emit('attributesChanged', { identity: p.identity, changed, attributes: { ...p.attributes } }),
      )
      .on(RoomEvent.DataReceived, (payload, p, kind, topic) =>
        emit('data', {
          from: p?.identity ?? '',
          payload: toBase64(payload),
          topic: topic ?? '',
          reliable: kind === undefined ? null : kind === 0,
        }),
      )
      .on(RoomEvent.ChatMessage, (msg, p) =>
        emit('chat', { from: p?.identity ?? '', id: msg.id, message: msg.message, timestamp: msg.timestamp }),
      )
      .on(RoomEvent.SipDTMFReceived, (dtmf, p) =>
        emit('dtmf', { from: p?.identity ?? '', code: dtmf.code, digit: dtmf.digit }),
      )
      .on(RoomEvent.TrackSubscribed, (track, pub, p) => this.onTrackSubscribed(track, pub, p))
      .on(RoomEvent.Disconnected, (reason) => emit('disconnected', { reason: String(reason) }));
    await room.connect(url, token, { autoSubscribe });
    const me = room.localParticipant;
    return { identity: me.identity, sid: me.sid ?? '', participants: this.participants() };
  }

  onTrackSubscribed(track, pub, p) {
    const report = {
      participant: p.identity,
      sid: pub.trackSid,
      name: pub.trackName ?? '',
      kind: track.kind === Track.Kind.Video ? 'video' : 'audio',
      mimeType: pub.mimeType ?? '',
      framesReceived: 0, // frames presented by the <video> element
      sizes: {}, // "WxH" -> frames presented at that size
      audioFrames: 0,
      audioSamples: 0,
    };
    this.tracks.set(pub.trackSid, { report, track });
    emit('trackSubscribed', { participant: p.identity, sid: pub.trackSid, kind: report.kind, mimeType: report.mimeType });
    // Attached to an element, as an application would: the media is then
    // played out (audio) and presented (video).
    const el = track.attach();
    el.muted = track.kind === Track.Kind.Video;
    el.volume = 0;
    document.body.appendChild(el);
    if (report.kind === 'video' && 'requestVideoFrameCallback' in el) {
      let last = 0;
      const onFrame = (_now, meta) => {
        const n = meta.presentedFrames - last;
        last = meta.presentedFrames;
        report.framesReceived += n;
        const size = `${meta.width}x${meta.height}`;
        report.sizes[size] = (report.sizes[size] ?? 0) + n;
        el.requestVideoFrameCallback(onFrame);
      };
      el.requestVideoFrameCallback(onFrame);
    }
  }

  async cmd_state() {
    const room = this.requireRoom();
    const me = room.localParticipant;
    return { identity: me.identity, sid: me.sid ?? '', attributes: { ...me.attributes }, participants: this.participants() };
  }

  async cmd_stats() {
    this.requireRoom();
    const tracks = [];
    for (const { report, track } of this.tracks.values()) {
      let rtp = null;
      const receiver = track.receiver;
      if (receiver) {
        const stats = await receiver.getStats();
        stats.forEach((s) => {
          if (s.type !== 'inbound-rtp') return;
          rtp = {
            codec: stats.get(s.codecId)?.mimeType ?? '',
            packetsReceived: s.packetsReceived ?? 0,
            packetsLost: s.packetsLost ?? 0,
            framesDecoded: s.framesDecoded ?? 0,
            keyFramesDecoded: s.keyFramesDecoded ?? 0,
            frameWidth: s.frameWidth ?? 0,
            frameHeight: s.frameHeight ?? 0,
            totalSamplesReceived: s.totalSamplesReceived ?? 0,
            concealedSamples: s.concealedSamples ?? 0,
            decoderImplementation: s.decoderImplementation ?? '',
          };
        });
      }
      tracks.push({ ...report, sizes: { ...report.sizes }, rtp });
    }
    const outbound = [];
    for (const t of this.local) {
      if (!t.sender) continue;
      const stats = await t.sender.getStats();
      stats.forEach((s) => {
        if (s.type !== 'outbound-rtp') return;
        outbound.push({
          kind: s.kind ?? '',
          codec: stats.get(s.codecId)?.mimeType ?? '',
          packetsSent: s.packetsSent ?? 0,
          framesEncoded: s.framesEncoded ?? 0,
          framesSent: s.framesSent ?? 0,
          frameWidth: s.frameWidth ?? 0,
          frameHeight: s.frameHeight ?? 0,
        });
      });
    }
    return { tracks, outbound };
  }

  async cmd_publish({ video = true, audio = true, width = 320, height = 240, fps = 30, videoCodec = 'vp8' }) {
    const room = this.requireRoom();
    const tracks = await createLocalTracks({
      audio,
      video: video ? { resolution: { width, height, frameRate: fps } } : false,
    });
    const out = {};
    for (const t of tracks) {
      const isVideo = t.kind === Track.Kind.Video;
      const pub = await room.localParticipant.publishTrack(t, {
        name: isVideo ? 'camera' : 'microphone',
        simulcast: false,
        videoCodec,
      });
      this.local.push(t);
      out[isVideo ? 'video' : 'audio'] = { sid: pub.trackSid };
    }
    return out;
  }

  // stopPublishing stops sending media on the published tracks (the
  // senders lose their source); they stay published.
  async cmd_stopPublishing() {
    for (const t of this.local) await t.sender?.replaceTrack(null);
    return {};
  }

  async cmd_sendData({ payload = '', topic, reliable = true, destinations }) {
    await this.requireRoom().localParticipant.publishData(fromBase64(payload), {
      reliable,
      topic,
      destinationIdentities: destinations,
    });
    return {};
  }

  async cmd_setAttributes({ attributes }) {
    await this.requireRoom().localParticipant.setAttributes(attributes ?? {});
    return {};
  }

  async cmd_registerRpc({ method, reply = {} }) {
    this.requireRoom().registerRpcMethod(method, async (data) => {
      emit('rpcInvoked', {
        method,
        requestId: data.requestId,
        callerIdentity: data.callerIdentity,
        payload: data.payload,
        responseTimeout: data.responseTimeout,
      });
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      if (reply.error) throw new RpcError(reply.error.code, reply.error.message, reply.error.data);
      if (reply.throwPlain) throw new Error(reply.throwPlain);
      return reply.echo ? data.payload : (reply.payload ?? '');
    });
    return {};
  }

  async cmd_unregisterRpc({ method }) {
    this.requireRoom().unregisterRpcMethod(method);
    return {};
  }

  async cmd_performRpc({ destination, method, payload = '', responseTimeoutMs }) {
    const response = await this.requireRoom().localParticipant.performRpc({
      destinationIdentity: destination,
      method,
      payload,
      responseTimeout: responseTimeoutMs,
    });
    return { payload: response };
  }

  async cmd_sendText({ text = '', topic, attributes, destinations }) {
    const progress = [];
    const info = await this.requireRoom().localParticipant.sendText(text, {
      topic,
      attributes,
      destinationIdentities: destinations,
      onProgress: (p) => progress.push(p),
    });
    return { streamId: info.id, sha256: await sha256(new TextEncoder().encode(text)), progress };
  }

  // sendFile streams the bytes at url (served by the host) as a byte
  // stream, reporting the sender's progress as sendProgress events.
  async cmd_sendFile({ url, topic, attributes, name, mimeType = 'application/octet-stream', destinations }) {
    const room = this.requireRoom();
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const writer = await room.localParticipant.streamBytes({
      name: name ?? 'file',
      topic,
      attributes,
      mimeType,
      totalSize: bytes.length,
      destinationIdentities: destinations,
    });
    const chunk = 64 * 1024;
    for (let off = 0; off < bytes.length; off += chunk) {
      await writer.write(bytes.subarray(off, Math.min(off + chunk, bytes.length)));
      emit('sendProgress', { streamId: writer.info.id, sent: Math.min(off + chunk, bytes.length), total: bytes.length });
    }
    await writer.close();
    return { streamId: writer.info.id, size: bytes.length, sha256: await sha256(bytes) };
  }

  async cmd_receiveText({ topic }) {
    this.requireRoom().registerTextStreamHandler(topic, (reader, from) => {
      const progress = [];
      reader.onProgress = (p) => progress.push(p ?? null);
      (async () => {
        const text = await reader.readAll();
        const bytes = new TextEncoder().encode(text);
        emit('textStream', {
          from: from.identity,
          streamId: reader.info.id,
          topic: reader.info.topic,
          attributes: reader.info.attributes ?? {},
          size: bytes.length,
          sha256: await sha256(bytes),
          text: bytes.length <= 4096 ? text : undefined,
          progress,
        });
      })().catch((err) => emit('streamError', { topic, message: String(err?.message ?? err) }));
    });
    return {};
  }

  async cmd_receiveBytes({ topic }) {
    this.requireRoom().registerByteStreamHandler(topic, (reader, from) => {
      const progress = [];
      reader.onProgress = (p) => progress.push(p ?? null);
      (async () => {
        const chunks = [];
        for await (const chunk of reader) chunks.push(chunk);
        const bytes = concat(chunks);
        emit('byteStream', {
          from: from.identity,
          streamId: reader.info.id,
          topic: reader.info.topic,
          name: reader.info.name,
          mimeType: reader.info.mimeType,
          totalSize: reader.info.size ?? null,
          attributes: reader.info.attributes ?? {},
          size: bytes.length,
          sha256: await sha256(bytes),
          progress,
        });
      })().catch((err) => emit('streamError', { topic, message: String(err?.message ?? err) }));
    });
    return {};
  }

  async cmd_sendDtmf({ code, digit }) {
    await this.requireRoom().localParticipant.publishDtmf(code, digit);
    return {};
  }

  async cmd_sendChat({ text }) {
    const msg = await this.requireRoom().localParticipant.sendChatMessage(text);
    return { id: msg.id, timestamp: msg.timestamp };
  }

  async cmd_leave() {
    for (const t of this.local) t.stop();
    this.local = [];
    if (this.room) {
      const room = this.room;
      this.room = null;
      await room.disconnect();
    }
    return {};
  }
}

window.peer = new BrowserPeer();
