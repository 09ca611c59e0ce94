// The "browser" peer: a participant on livekit-client, running in headless
// Chromium. browser-peer.mjs bundles this file, serves it on loopback and
// forwards the commands of host.mjs to window.peer.handle; events go back
// through window.__emit.
import {
  ExternalE2EEKeyProvider,
  LocalAudioTrack,
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

// The AudioWorklet that records what reaches it: every render quantum, as
// 16-bit samples (interleaved when stereo), posted in 100 ms pieces and on
// a "flush" message. A quantum without input is recorded as silence, so
// the recording keeps the context's time.
const recorderWorklet = `
class Recorder extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.channels = options.processorOptions.channels;
    this.size = Math.round(sampleRate / 10);
    this.buf = new Int16Array(this.size * this.channels);
    this.n = 0;
    this.stopped = false;
    this.port.onmessage = (e) => {
      if (e.data !== 'flush') return;
      this.post();
      this.stopped = true;
      this.port.postMessage({ done: true });
    };
  }
  post() {
    if (this.n === 0) return;
    this.port.postMessage({ pcm: this.buf.slice(0, this.n * this.channels) });
    this.n = 0;
  }
  process(inputs) {
    if (this.stopped) return false;
    const input = inputs[0] ?? [];
    const frames = input[0]?.length ?? 128;
    for (let i = 0; i < frames; i++) {
      for (let c = 0; c < this.channels; c++) {
        const ch = input[c] ?? input[0];
        const v = ch ? ch[i] : 0;
        this.buf[this.n * this.channels + c] = Math.max(-32768, Math.min(32767, Math.round(v * 32768)));
      }
      if (++this.n === this.size) this.post();
    }
    return true;
  }
}
registerProcessor('lksdk-recorder', Recorder);
`;

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
    this.audioTracks = new Map(); // name of a subscribed audio track -> track
    this.recordings = new Map(); // track name -> recording (see cmd_recordAudio)
    this.ctx = null;
  }

  // audioContext is the page's AudioContext at 48 kHz, running, with the
  // recorder worklet loaded.
  async audioContext() {
    if (!this.ctx) {
      this.ctx = (async () => {
        const ctx = new AudioContext({ sampleRate: 48000 });
        const url = URL.createObjectURL(new Blob([recorderWorklet], { type: 'text/javascript' }));
        await ctx.audioWorklet.addModule(url);
        URL.revokeObjectURL(url);
        await ctx.resume();
        return ctx;
      })();
    }
    return this.ctx;
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

  // join connects to the room; with e2ee ({passphrase, ratchetWindowSize,
  // failureTolerance}) media and data are end-to-end encrypted with a key
  // the key provider derives from the passphrase (PBKDF2), in
  // livekit-client's e2ee worker (served by the host).
  async cmd_join({ url, token, autoSubscribe = true, e2ee }) {
    const opts = { adaptiveStream: false, dynacast: false };
    if (e2ee) {
      const kpOpts = {};
      if (e2ee.ratchetWindowSize !== undefined) kpOpts.ratchetWindowSize = e2ee.ratchetWindowSize;
      if (e2ee.failureTolerance !== undefined) kpOpts.failureTolerance = e2ee.failureTolerance;
      this.keyProvider = new ExternalE2EEKeyProvider(kpOpts);
      await this.keyProvider.setKey(e2ee.passphrase);
      opts.encryption = {
        keyProvider: this.keyProvider,
        worker: new Worker(window.__e2eeWorkerURL, { type: 'module' }),
      };
    }
    const room = new Room(opts);
    this.room = room;
    this.e2eeStates = {};
    const count = (identity, state) => {
      const c = (this.e2eeStates[identity] ??= {});
      c[state] = (c[state] ?? 0) + 1;
    };
    room
      .on(RoomEvent.ParticipantEncryptionStatusChanged, (encrypted, p) => {
        count(p?.identity ?? '', encrypted ? 'encrypted' : 'unencrypted');
        emit('encryptionStatus', { identity: p?.identity ?? '', encrypted });
      })
      .on(RoomEvent.EncryptionError, (err, p) => {
        count(p?.identity ?? err?.participantIdentity ?? '', 'error');
        emit('encryptionError', {
          identity: p?.identity ?? err?.participantIdentity ?? '',
          message: String(err?.message ?? err),
          reason: err?.reason ?? null,
        });
      })
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
    if (e2ee) await room.setE2EEEnabled(true);
    await room.connect(url, token, { autoSubscribe });
    const me = room.localParticipant;
    return { identity: me.identity, sid: me.sid ?? '', participants: this.participants() };
  }

  // e2ee reports the encryption state changes and errors seen per
  // participant.
  async cmd_e2ee() {
    const room = this.requireRoom();
    return { enabled: !!room.isE2EEEnabled, states: this.e2eeStates ?? {} };
  }

  // ratchetKey ratchets the shared key at index; the others follow when a
  // frame does not decrypt with the key they have.
  async cmd_ratchetKey({ index = 0 }) {
    if (!this.keyProvider) throw new Error('not encrypted: join with e2ee');
    this.keyProvider.ratchetKey(undefined, index);
    return {};
  }

  async cmd_setKey({ passphrase }) {
    if (!this.keyProvider) throw new Error('not encrypted: join with e2ee');
    await this.keyProvider.setKey(passphrase);
    return {};
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
    if (report.kind === 'audio') {
      this.audioTracks.set(report.name, track);
      const rec = this.recordings.get(report.name);
      if (rec && !rec.started) this.startRecording(rec, track);
    }
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

  // publishTone publishes a WebAudio track: an OscillatorNode per channel
  // (frequencies[c] Hz, peak amplitude as a fraction of full scale) into a
  // MediaStreamAudioDestinationNode, published with livekit-client without
  // echo cancellation, noise suppression, automatic gain or DTX.
  async cmd_publishTone({ name = 'tone', frequencies = [440], amplitude = 0.25 }) {
    const room = this.requireRoom();
    const channels = frequencies.length;
    if (channels < 1 || channels > 2) throw new Error(`publishTone: ${channels} frequencies: one per channel, 1 or 2`);
    if (!(amplitude > 0 && amplitude <= 1)) throw new Error(`publishTone: amplitude ${amplitude}: above 0, at most 1`);
    const ctx = await this.audioContext();
    const dest = ctx.createMediaStreamDestination();
    dest.channelCount = channels;
    dest.channelCountMode = 'explicit';
    dest.channelInterpretation = 'discrete';
    const merger = ctx.createChannelMerger(channels);
    const nodes = [];
    frequencies.forEach((f, c) => {
      const osc = new OscillatorNode(ctx, { type: 'sine', frequency: f });
      const gain = new GainNode(ctx, { gain: amplitude });
      osc.connect(gain).connect(merger, 0, c);
      osc.start();
      nodes.push(osc, gain);
    });
    merger.connect(dest);
    const mst = dest.stream.getAudioTracks()[0];
    const constraints = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
    let constraintsError = null;
    try {
      await mst.applyConstraints(constraints);
    } catch (e) {
      constraintsError = String(e?.message ?? e);
    }
    const track = new LocalAudioTrack(mst, constraints, true);
    const pub = await room.localParticipant.publishTrack(track, {
      name,
      source: Track.Source.Microphone,
      dtx: false,
      forceStereo: channels === 2,
    });
    this.local.push(track);
    this.toneNodes = [...(this.toneNodes ?? []), ...nodes, merger];
    return {
      sid: pub.trackSid,
      sampleRate: ctx.sampleRate,
      channels,
      frequencies,
      amplitude,
      settings: mst.getSettings(),
      constraintsError,
    };
  }

  // recordAudio records the subscribed audio track named name, from now or
  // from its subscription: its MediaStreamTrack through an AudioWorklet in
  // the page's AudioContext (48 kHz), mixed to channels. audioRecording
  // returns what it recorded.
  async cmd_recordAudio({ name, channels = 1 }) {
    this.requireRoom();
    if (this.recordings.has(name)) throw new Error(`recordAudio: ${name} is being recorded already`);
    await this.audioContext();
    const rec = { name, channels, chunks: [], frames: 0, started: false };
    this.recordings.set(name, rec);
    const track = this.audioTracks.get(name);
    if (track) this.startRecording(rec, track);
    return {};
  }

  async startRecording(rec, track) {
    rec.started = true;
    const ctx = await this.ctx;
    rec.rtpStart = this.receiverRTP(track);
    rec.source = ctx.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
    rec.node = new AudioWorkletNode(ctx, 'lksdk-recorder', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: rec.channels,
      channelCountMode: 'explicit',
      channelInterpretation: 'speakers',
      processorOptions: { channels: rec.channels },
    });
    rec.flushed = new Promise((resolve) => {
      rec.node.port.onmessage = (e) => {
        if (e.data.pcm) {
          rec.chunks.push(e.data.pcm);
          rec.frames += e.data.pcm.length / rec.channels;
        }
        if (e.data.done) resolve();
      };
    });
    // A silent path to the destination keeps the worklet rendered.
    rec.sink = new GainNode(ctx, { gain: 0 });
    rec.source.connect(rec.node).connect(rec.sink).connect(ctx.destination);
    emit('recordingStarted', { name: rec.name });
  }

  async receiverRTP(track) {
    const receiver = track.receiver;
    if (!receiver) return null;
    const stats = await receiver.getStats();
    let rtp = null;
    stats.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      rtp = {
        ssrc: s.ssrc ?? 0,
        codec: stats.get(s.codecId)?.mimeType ?? '',
        packetsReceived: s.packetsReceived ?? 0,
        packetsLost: s.packetsLost ?? 0,
        totalSamplesReceived: s.totalSamplesReceived ?? 0,
        concealedSamples: s.concealedSamples ?? 0,
      };
    });
    return rtp;
  }

  // audioRecording stops the recording of name and returns it: pcm is the
  // interleaved 16-bit samples (little-endian, base64), frames the samples
  // per channel, rtpStart/rtpEnd the track's inbound-rtp statistics when
  // it started and now.
  async cmd_audioRecording({ name }) {
    const rec = this.recordings.get(name);
    if (!rec) throw new Error(`audioRecording: ${name} is not being recorded`);
    if (!rec.node) throw new Error(`audioRecording: ${name} was never subscribed`);
    this.recordings.delete(name);
    const rtpEnd = await this.receiverRTP(this.audioTracks.get(name));
    rec.node.port.postMessage('flush');
    await rec.flushed;
    rec.source.disconnect();
    rec.node.disconnect();
    rec.sink.disconnect();
    const pcm = new Int16Array(rec.chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of rec.chunks) {
      pcm.set(c, off);
      off += c.length;
    }
    const ctx = await this.ctx;
    return {
      sampleRate: ctx.sampleRate,
      channels: rec.channels,
      frames: rec.frames,
      pcm: toBase64(new Uint8Array(pcm.buffer)),
      rtpStart: await rec.rtpStart,
      rtpEnd,
    };
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
    for (const n of this.toneNodes ?? []) n.disconnect();
    this.toneNodes = [];
    if (this.room) {
      const room = this.room;
      this.room = null;
      await room.disconnect();
    }
    return {};
  }
}

window.peer = new BrowserPeer();
