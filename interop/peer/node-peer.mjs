// The "node" peer: a participant on @livekit/rtc-node (LiveKit's Rust core).
// It implements the commands of host.mjs with that SDK's own API.
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  AudioFrame,
  EncryptionState,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  LocalVideoTrack,
  ParticipantKind,
  Room,
  RoomEvent,
  RpcError,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  VideoBufferType,
  VideoCodec,
  VideoFrame,
  VideoSource,
  VideoStream,
  dispose,
} from '@livekit/rtc-node';

const kindNames = {
  [ParticipantKind.STANDARD]: 'standard',
  [ParticipantKind.INGRESS]: 'ingress',
  [ParticipantKind.EGRESS]: 'egress',
  [ParticipantKind.SIP]: 'sip',
  [ParticipantKind.AGENT]: 'agent',
  [ParticipantKind.CONNECTOR]: 'connector',
};

const videoCodecs = { vp8: VideoCodec.VP8, h264: VideoCodec.H264, vp9: VideoCodec.VP9, av1: VideoCodec.AV1 };

const encryptionStates = Object.fromEntries(
  Object.entries(EncryptionState)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v, k.toLowerCase()]),
);

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const num = (v) => (v === undefined || v === null ? 0 : Number(v));

export class NodePeer {
  constructor(emit) {
    this.emit = emit;
    this.room = null;
    this.tracks = new Map(); // track sid -> per-track report
    this.publishers = []; // stop functions of published sources
    this.audioTracks = new Map(); // name of a subscribed audio track -> track
    this.recordings = new Map(); // track name -> recording (see cmd_recordAudio)
    this.e2eeStates = {}; // participant identity -> {state name: times entered}
    this.onFfiEvent = null;
  }

  async start() {}

  async close() {
    if (this.onFfiEvent) globalThis._ffiClientInstance?.off('ffi_event', this.onFfiEvent);
    await this.leave();
    await dispose();
  }

  async handle(cmd, args) {
    const f = this[`cmd_${cmd}`];
    if (typeof f !== 'function') throw new Error(`unknown command ${JSON.stringify(cmd)}`);
    return f.call(this, args);
  }

  requireRoom() {
    if (!this.room?.isConnected) throw new Error('not connected: send join first');
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

  // join connects to the room; with e2ee ({passphrase, ratchetWindowSize,
  // failureTolerance}) media are end-to-end encrypted with the passphrase's
  // bytes as the shared key, which rtc-node derives a key from with PBKDF2.
  async cmd_join({ url, token, autoSubscribe = true, e2ee }) {
    const room = new Room();
    this.room = room;
    room
      .on(RoomEvent.ParticipantEncryptionStatusChanged, (encrypted, p) => {
        this.countE2EEState(p?.identity ?? '', encrypted ? 'encrypted' : 'unencrypted');
        this.emit('encryptionStatus', { identity: p?.identity ?? '', encrypted });
      })
      .on(RoomEvent.EncryptionError, (err) => this.emit('encryptionError', { message: String(err?.message ?? err) }))
      .on(RoomEvent.ParticipantConnected, (p) => this.emit('participantConnected', this.participantReport(p)))
      .on(RoomEvent.ParticipantDisconnected, (p) => this.emit('participantDisconnected', { identity: p.identity }))
      .on(RoomEvent.ParticipantAttributesChanged, (changed, p) =>
        this.emit('attributesChanged', { identity: p.identity, changed, attributes: { ...p.attributes } }),
      )
      .on(RoomEvent.DataReceived, (payload, p, kind, topic) =>
        this.emit('data', {
          from: p?.identity ?? '',
          payload: Buffer.from(payload).toString('base64'),
          topic: topic ?? '',
          reliable: kind === undefined ? null : kind === 1,
        }),
      )
      .on(RoomEvent.ChatMessage, (msg, p) =>
        this.emit('chat', { from: p?.identity ?? '', id: msg.id, message: msg.message, timestamp: msg.timestamp }),
      )
      .on(RoomEvent.DtmfReceived, (code, digit, p) => this.emit('dtmf', { from: p?.identity ?? '', code, digit }))
      .on(RoomEvent.TrackSubscribed, (track, pub, p) => this.onTrackSubscribed(track, pub, p))
      .on(RoomEvent.Disconnected, (reason) => this.emit('disconnected', { reason: String(reason) }));
    const opts = { autoSubscribe, dynacast: false };
    if (e2ee) {
      const keyProviderOptions = { sharedKey: new TextEncoder().encode(e2ee.passphrase) };
      if (e2ee.ratchetWindowSize !== undefined) keyProviderOptions.ratchetWindowSize = e2ee.ratchetWindowSize;
      if (e2ee.failureTolerance !== undefined) keyProviderOptions.failureTolerance = e2ee.failureTolerance;
      opts.encryption = { keyProviderOptions };
    }
    await room.connect(url, token, opts);
    if (e2ee) this.watchE2EEStates();
    const me = room.localParticipant;
    return { identity: me.identity, sid: me.sid ?? '', participants: this.participants() };
  }

  // watchE2EEStates reports the frame cryptors' state changes, which the
  // Room passes on only for internal errors: rtc-node's FFI client (the
  // process-wide one the Room listens to, there once connected) emits them
  // per participant.
  watchE2EEStates() {
    const ffi = globalThis._ffiClientInstance;
    if (!ffi || this.onFfiEvent) return;
    this.onFfiEvent = (ev) => {
      if (ev.message?.case !== 'roomEvent') return;
      const re = ev.message.value.message;
      if (re?.case !== 'e2eeStateChanged') return;
      const identity = re.value.participantIdentity ?? '';
      const state = encryptionStates[re.value.state] ?? String(re.value.state);
      this.countE2EEState(identity, state);
      this.emit('e2eeState', { identity, state });
    };
    ffi.on('ffi_event', this.onFfiEvent);
  }

  countE2EEState(identity, state) {
    const counts = (this.e2eeStates[identity] ??= {});
    counts[state] = (counts[state] ?? 0) + 1;
  }

  requireKeyProvider() {
    const kp = this.requireRoom().e2eeManager?.keyProvider;
    if (!kp) throw new Error('not encrypted: join with e2ee');
    return kp;
  }

  // e2ee reports the encryption state changes seen per participant.
  async cmd_e2ee() {
    const room = this.requireRoom();
    return { enabled: !!room.e2eeManager?.enabled, states: this.e2eeStates };
  }

  // ratchetKey ratchets the shared key at index; it returns the new key
  // material (base64).
  async cmd_ratchetKey({ index = 0 }) {
    const key = this.requireKeyProvider().ratchetSharedKey(index);
    return { key: Buffer.from(key ?? []).toString('base64') };
  }

  // setKey sets the shared key at index from a passphrase.
  async cmd_setKey({ passphrase, index = 0 }) {
    this.requireKeyProvider().setSharedKey(new TextEncoder().encode(passphrase), index);
    return {};
  }

  participants() {
    return [...(this.room?.remoteParticipants.values() ?? [])].map((p) => this.participantReport(p));
  }

  onTrackSubscribed(track, pub, p) {
    const report = {
      participant: p.identity,
      sid: pub.sid,
      name: pub.name ?? '',
      kind: track.kind === TrackKind.KIND_VIDEO ? 'video' : 'audio',
      mimeType: pub.mimeType ?? '',
      framesReceived: 0, // frames delivered to the sink
      sizes: {}, // "WxH" -> frames of that size
      audioFrames: 0,
      audioSamples: 0,
    };
    this.tracks.set(pub.sid, report);
    this.emit('trackSubscribed', { participant: p.identity, sid: pub.sid, kind: report.kind, mimeType: report.mimeType });
    if (report.kind === 'video') {
      (async () => {
        for await (const ev of new VideoStream(track)) {
          report.framesReceived++;
          const size = `${ev.frame.width}x${ev.frame.height}`;
          report.sizes[size] = (report.sizes[size] ?? 0) + 1;
        }
      })().catch((err) => console.error('video stream:', err));
    } else {
      this.audioTracks.set(report.name, track);
      const rec = this.recordings.get(report.name);
      if (rec && !rec.started) this.startRecording(rec, track);
      (async () => {
        for await (const frame of new AudioStream(track, 48000, 1)) {
          report.audioFrames++;
          report.audioSamples += frame.samplesPerChannel;
        }
      })().catch((err) => console.error('audio stream:', err));
    }
  }

  async cmd_state() {
    this.requireRoom();
    const me = this.room.localParticipant;
    return { identity: me.identity, sid: me.sid ?? '', attributes: { ...me.attributes }, participants: this.participants() };
  }

  // stats merges what the sinks saw with the inbound-rtp
  // statistics (framesDecoded, frame size, samples, decoder).
  async cmd_stats() {
    const room = this.requireRoom();
    const res = await room.getRtcStats();
    const inbound = new Map(); // track identifier -> stats
    const codecs = new Map();
    // With a single peer connection (which rtc-node negotiates with current
    // servers) everything is in the publisher's statistics.
    const all = [...(res.subscriberStats ?? []), ...(res.publisherStats ?? [])];
    for (const s of all) {
      if (s.stats.case === 'codec') codecs.set(s.stats.value.rtc?.id, s.stats.value.codec?.mimeType ?? '');
    }
    const outbound = [];
    for (const s of all) {
      if (s.stats.case !== 'outboundRtp') continue;
      const v = s.stats.value;
      outbound.push({
        kind: v.stream?.kind ?? '',
        codec: codecs.get(v.stream?.codecId) ?? '',
        packetsSent: num(v.sent?.packetsSent),
        framesEncoded: num(v.outbound?.framesEncoded),
        framesSent: num(v.outbound?.framesSent),
        frameWidth: num(v.outbound?.frameWidth),
        frameHeight: num(v.outbound?.frameHeight),
      });
    }
    for (const s of all) {
      if (s.stats.case !== 'inboundRtp') continue;
      const v = s.stats.value;
      inbound.set(v.inbound?.trackIdentifier, {
        ssrc: num(v.stream?.ssrc),
        codec: codecs.get(v.stream?.codecId) ?? '',
        packetsReceived: num(v.received?.packetsReceived),
        packetsLost: num(v.received?.packetsLost),
        framesDecoded: num(v.inbound?.framesDecoded),
        keyFramesDecoded: num(v.inbound?.keyFramesDecoded),
        frameWidth: num(v.inbound?.frameWidth),
        frameHeight: num(v.inbound?.frameHeight),
        totalSamplesReceived: num(v.inbound?.totalSamplesReceived),
        concealedSamples: num(v.inbound?.concealedSamples),
        decoderImplementation: v.inbound?.decoderImplementation ?? '',
      });
    }
    // rtc-node does not say which inbound stream carries which track (the
    // statistics' track identifier is libwebrtc's own), so streams are
    // matched to tracks by codec, where that is unambiguous.
    const byCodec = new Map();
    for (const st of inbound.values()) {
      const key = st.codec.toLowerCase();
      byCodec.set(key, byCodec.has(key) ? null : st);
    }
    const tracks = [];
    for (const report of this.tracks.values()) {
      const rtp = byCodec.get(report.mimeType.toLowerCase()) ?? null;
      tracks.push({ ...report, sizes: { ...report.sizes }, rtp });
    }
    return { tracks, outbound };
  }

  async cmd_publish({ video = true, audio = true, width = 320, height = 240, fps = 30, videoCodec = 'vp8' }) {
    const room = this.requireRoom();
    const out = {};
    if (video) {
      const source = new VideoSource(width, height);
      const track = LocalVideoTrack.createVideoTrack('camera', source);
      const codec = videoCodecs[videoCodec];
      if (codec === undefined) throw new Error(`unknown video codec ${videoCodec}`);
      const pub = await room.localParticipant.publishTrack(
        track,
        new TrackPublishOptions({ source: TrackSource.SOURCE_CAMERA, simulcast: false, videoCodec: codec }),
      );
      const buf = new Uint8Array((width * height * 3) / 2);
      let n = 0;
      const timer = setInterval(() => {
        // A moving gradient: consecutive frames differ, so the encoder
        // sends real pictures.
        for (let y = 0; y < height; y++) buf.fill((y + n * 4) & 0xff, y * width, (y + 1) * width);
        buf.fill(128, width * height);
        source.captureFrame(new VideoFrame(buf, width, height, VideoBufferType.I420));
        n++;
      }, 1000 / fps);
      this.publishers.push({ stop: async () => clearInterval(timer), close: () => source.close() });
      out.video = { sid: pub.sid };
    }
    if (audio) {
      const sampleRate = 48000;
      const source = new AudioSource(sampleRate, 1);
      const track = LocalAudioTrack.createAudioTrack('microphone', source);
      const pub = await room.localParticipant.publishTrack(
        track,
        new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
      );
      let stopped = false;
      const loop = (async () => {
        const samples = sampleRate / 100; // 10 ms
        let t = 0;
        while (!stopped) {
          const frame = AudioFrame.create(sampleRate, 1, samples);
          for (let i = 0; i < samples; i++, t++) {
            frame.data[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * t) / sampleRate));
          }
          await source.captureFrame(frame); // paces: waits while the queue is full
        }
      })().catch((err) => console.error('audio source:', err));
      const stop = async () => {
        stopped = true;
        await loop;
      };
      this.publishers.push({ stop, close: () => source.close() });
      out.audio = { sid: pub.sid };
    }
    return out;
  }

  // publishTone publishes an audio track fed with a sine per channel
  // (frequencies[c] Hz, peak amplitude as a fraction of full scale) at
  // sampleRate, in 10 ms frames, until stopPublishing or leave.
  async cmd_publishTone({ name = 'tone', frequencies = [440], amplitude = 0.25, sampleRate = 48000 }) {
    const room = this.requireRoom();
    const channels = frequencies.length;
    if (channels < 1 || channels > 2) throw new Error(`publishTone: ${channels} frequencies: one per channel, 1 or 2`);
    if (!(amplitude > 0 && amplitude <= 1)) throw new Error(`publishTone: amplitude ${amplitude}: above 0, at most 1`);
    const peak = Math.round(amplitude * 32767);
    const source = new AudioSource(sampleRate, channels);
    const track = LocalAudioTrack.createAudioTrack(name, source);
    const pub = await room.localParticipant.publishTrack(
      track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE, dtx: false }),
    );
    let stopped = false;
    let sent = 0; // samples per channel handed to the source
    const loop = (async () => {
      const samples = sampleRate / 100; // 10 ms
      while (!stopped) {
        const frame = AudioFrame.create(sampleRate, channels, samples);
        for (let i = 0; i < samples; i++) {
          for (let c = 0; c < channels; c++) {
            frame.data[i * channels + c] = Math.round(peak * Math.sin((2 * Math.PI * frequencies[c] * (sent + i)) / sampleRate));
          }
        }
        sent += samples;
        await source.captureFrame(frame); // paces: waits while the queue is full
      }
    })().catch((err) => console.error('tone source:', err));
    this.publishers.push({
      stop: async () => {
        stopped = true;
        await loop;
      },
      close: () => source.close(),
    });
    return { sid: pub.sid, sampleRate, channels, frequencies, amplitude, peak };
  }

  // recordAudio records the subscribed audio track named name, from now or
  // from its subscription, through an AudioStream of its own at sampleRate
  // with channels; audioRecording returns what it recorded.
  async cmd_recordAudio({ name, channels = 1, sampleRate = 48000 }) {
    this.requireRoom();
    if (this.recordings.has(name)) throw new Error(`recordAudio: ${name} is being recorded already`);
    const rec = { name, channels, sampleRate, chunks: [], frames: 0, started: false, stream: null, done: null };
    this.recordings.set(name, rec);
    const track = this.audioTracks.get(name);
    if (track) this.startRecording(rec, track);
    return {};
  }

  startRecording(rec, track) {
    rec.started = true;
    rec.stream = new AudioStream(track, { sampleRate: rec.sampleRate, numChannels: rec.channels, frameSizeMs: 10 });
    this.emit('recordingStarted', { name: rec.name });
    rec.done = (async () => {
      for await (const frame of rec.stream) {
        if (frame.sampleRate !== rec.sampleRate || frame.channels !== rec.channels) {
          throw new Error(`recording ${rec.name}: a frame of ${frame.channels} channels at ${frame.sampleRate} Hz`);
        }
        // The statistics from the first frame: the stream has none before.
        if (rec.frames === 0) rec.rtpStart = this.trackRTP(rec.name).catch(() => null);
        rec.chunks.push(frame.data);
        rec.frames += frame.samplesPerChannel;
        if (rec.stopped) break;
      }
    })().catch((err) => {
      rec.error = String(err?.message ?? err);
    });
  }

  // trackRTP is the inbound-rtp statistics of the subscribed track named
  // name, where stats can tell its stream apart (null otherwise).
  async trackRTP(name) {
    const { tracks } = await this.cmd_stats();
    return tracks.find((t) => t.name === name)?.rtp ?? null;
  }

  // audioRecording stops the recording of name and returns it: pcm is the
  // interleaved 16-bit samples (little-endian, base64), frames the samples
  // per channel, rtpStart/rtpEnd the track's inbound-rtp statistics when
  // it started and now.
  async cmd_audioRecording({ name }) {
    const rec = this.recordings.get(name);
    if (!rec) throw new Error(`audioRecording: ${name} is not being recorded`);
    if (!rec.started) throw new Error(`audioRecording: ${name} was never subscribed`);
    const rtpEnd = await this.trackRTP(name);
    this.recordings.delete(name);
    rec.stopped = true; // the stream ends at its next frame
    const chunks = rec.chunks.slice();
    const frames = rec.frames;
    if (rec.error) throw new Error(rec.error);
    const pcm = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      pcm.set(c, off);
      off += c.length;
    }
    return {
      sampleRate: rec.sampleRate,
      channels: rec.channels,
      frames,
      pcm: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).toString('base64'),
      rtpStart: (await rec.rtpStart) ?? null,
      rtpEnd,
    };
  }

  // stopPublishing stops feeding the published tracks; they stay published.
  async cmd_stopPublishing() {
    for (const p of this.publishers) await p.stop();
    return {};
  }

  async cmd_sendData({ payload = '', topic, reliable = true, destinations }) {
    const room = this.requireRoom();
    await room.localParticipant.publishData(Buffer.from(payload, 'base64'), {
      reliable,
      topic,
      destination_identities: destinations,
    });
    return {};
  }

  async cmd_setAttributes({ attributes }) {
    await this.requireRoom().localParticipant.setAttributes(attributes ?? {});
    return {};
  }

  // registerRpc makes method answer with reply.payload (or the request's
  // payload when reply.echo), or fail with reply.error, after reply.delayMs.
  async cmd_registerRpc({ method, reply = {} }) {
    const room = this.requireRoom();
    room.localParticipant.registerRpcMethod(method, async (data) => {
      this.emit('rpcInvoked', {
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
    this.requireRoom().localParticipant.unregisterRpcMethod(method);
    return {};
  }

  async cmd_performRpc({ destination, method, payload = '', responseTimeoutMs }) {
    const room = this.requireRoom();
    const response = await room.localParticipant.performRpc({
      destinationIdentity: destination,
      method,
      payload,
      responseTimeout: responseTimeoutMs,
    });
    return { payload: response };
  }

  async cmd_sendText({ text = '', topic, attributes, destinations }) {
    const info = await this.requireRoom().localParticipant.sendText(text, {
      topic,
      attributes,
      destinationIdentities: destinations,
    });
    return { streamId: info.streamId, sha256: sha256(Buffer.from(text, 'utf8')) };
  }

  // sendFile streams the bytes of path as a byte stream, reporting the
  // sender's progress as sendProgress events.
  async cmd_sendFile({ path, topic, attributes, name, mimeType = 'application/octet-stream', destinations }) {
    const room = this.requireRoom();
    const bytes = fs.readFileSync(path);
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
      this.emit('sendProgress', { streamId: writer.info.streamId, sent: Math.min(off + chunk, bytes.length), total: bytes.length });
    }
    await writer.close();
    return { streamId: writer.info.streamId, size: bytes.length, sha256: sha256(bytes) };
  }

  async cmd_receiveText({ topic }) {
    this.requireRoom().registerTextStreamHandler(topic, (reader, from) => {
      const progress = [];
      reader.onProgress = (p) => progress.push(p ?? null);
      (async () => {
        const text = await reader.readAll();
        const bytes = Buffer.from(text, 'utf8');
        this.emit('textStream', {
          from: from.identity,
          streamId: reader.info.streamId,
          topic: reader.info.topic,
          attributes: reader.info.attributes ?? {},
          size: bytes.length,
          sha256: sha256(bytes),
          text: bytes.length <= 4096 ? text : undefined,
          progress,
        });
      })().catch((err) => this.emit('streamError', { topic, message: String(err?.message ?? err) }));
    });
    return {};
  }

  async cmd_receiveBytes({ topic }) {
    this.requireRoom().registerByteStreamHandler(topic, (reader, from) => {
      const progress = [];
      reader.onProgress = (p) => progress.push(p ?? null);
      (async () => {
        const hash = crypto.createHash('sha256');
        let size = 0;
        for await (const chunk of reader) {
          hash.update(chunk);
          size += chunk.length;
        }
        this.emit('byteStream', {
          from: from.identity,
          streamId: reader.info.streamId,
          topic: reader.info.topic,
          name: reader.info.name,
          mimeType: reader.info.mimeType,
          totalSize: reader.info.totalSize ?? null,
          attributes: reader.info.attributes ?? {},
          size,
          sha256: hash.digest('hex'),
          progress,
        });
      })().catch((err) => this.emit('streamError', { topic, message: String(err?.message ?? err) }));
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
    await this.leave();
    return {};
  }

  async leave() {
    const stops = this.publishers;
    this.publishers = [];
    for (const p of stops) {
      await p.stop().catch(() => {});
      await p.close().catch(() => {});
    }
    if (this.room) {
      const room = this.room;
      this.room = null;
      await room.disconnect().catch(() => {});
    }
  }
}
