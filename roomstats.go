package lksdk

// RoomStats counts what a room did with what other participants sent it,
// against the bounds that keep a room's memory bounded whatever they send
// (see MaxPendingLossyPackets and the constants beside it). The counts
// start at zero when the room joins; a room that never joined reports
// zeros.
type RoomStats struct {
	// DataReceived is the number of data packets read and taken.
	DataReceived uint64
	// DataMalformed is the number of data packets that could not be
	// decoded, and were dropped.
	DataMalformed uint64
	// DataDecryptFailed is the number of encrypted data packets that the
	// room's DataCryptor (WithDataCryptor) could not decrypt, and were
	// dropped.
	DataDecryptFailed uint64
	// DataEncryptedNoCryptor is the number of encrypted data packets
	// (other participants' end-to-end encryption) dropped because the room
	// has no DataCryptor to open them with (see WithDataCryptor).
	DataEncryptedNoCryptor uint64
	// DroppedLossy is the number of lossy data packets dropped because
	// MaxPendingLossyPackets (or MaxPendingLossyBytes) were waiting for the
	// room's callbacks.
	DroppedLossy uint64
	// ReliablePauses is the number of times reading reliable data paused
	// because MaxPendingReliablePackets (or MaxPendingReliableBytes) were
	// waiting for the room's callbacks. Reliable data is never dropped.
	ReliablePauses uint64
	// PendingLossy and PendingReliable are the data packets waiting for the
	// room's callbacks now.
	PendingLossy, PendingReliable int
	// PendingLossyHighWater and PendingReliableHighWater are the most data
	// packets that waited at once.
	PendingLossyHighWater, PendingReliableHighWater int
	// PendingBytesHighWater is the most bytes of one kind of data that
	// waited at once.
	PendingBytesHighWater int

	// Held is the number of data packets held now because their senders
	// are not known yet; HeldHighWater the most held at once (at most
	// MaxHeldDataPackets).
	Held, HeldHighWater int
	// HeldExpired is the number of held packets delivered without a sender
	// because it was not announced within 5 s.
	HeldExpired uint64
	// HeldOverflow is the number of held packets delivered early, without a
	// sender, because MaxHeldDataPackets were held.
	HeldOverflow uint64

	// CallbackQueueHighWater is the most callbacks (of every kind) that
	// waited at once to be called (at most MaxPendingCallbacks, and a few
	// more: the room's last callbacks, OnDisconnected, are queued past it).
	CallbackQueueHighWater int
	// CallbacksRefused is the number of callbacks not queued because
	// MaxPendingCallbacks were waiting: the one that found the bound
	// reached and every one after it. The room closes at the first (see
	// MaxPendingCallbacks), so this is zero in a room that is open.
	CallbacksRefused uint64

	// SignalPauses is the number of times reading the signal connection
	// paused because MaxPendingSignalResponses (or MaxPendingSignalBytes)
	// were waiting for the room's event loop. Signal responses are never
	// dropped.
	SignalPauses uint64
	// PendingSignalHighWater is the most signal responses that waited at
	// once for the room's event loop, PendingSignalBytesHighWater the most
	// bytes of them.
	PendingSignalHighWater, PendingSignalBytesHighWater int

	// DroppedRPCRequests is the number of incoming RPC calls dropped
	// because MaxConcurrentRpcRequests were being answered.
	DroppedRPCRequests uint64
	// Streams counts what the room did with incoming data streams.
	Streams DataStreamStats
}

// Stats returns the room's counts of received data and of what its bounds
// made it do. It may be called in any state, from any goroutine.
func (r *Room) Stats() RoomStats {
	var s RoomStats
	r.lock.RLock()
	e, d := r.engine, r.dispatcher
	s.Held, s.HeldHighWater = r.held.count, r.held.high
	s.HeldExpired, s.HeldOverflow = r.held.expired, r.held.overflow
	r.lock.RUnlock()
	if e != nil {
		e.inbound.fill(&s)
		_, s.PendingSignalHighWater, s.PendingSignalBytesHighWater, s.SignalPauses = e.signalGate.counts()
	}
	if d != nil {
		s.CallbackQueueHighWater = d.highWater()
		s.CallbacksRefused = d.refusedCount()
	}
	s.DroppedRPCRequests = r.DroppedRpcRequests()
	s.Streams = r.DataStreamStats()
	return s
}
