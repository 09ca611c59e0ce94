package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/livekit/server-sdk-go/pkg/e2ee"
)

func passphraseKeys(t *testing.T, pass string) *e2ee.ExternalKeyProvider {
	t.Helper()
	kp, err := e2ee.NewExternalKeyProvider(e2ee.WithFailureTolerance(-1))
	require.NoError(t, err)
	require.NoError(t, kp.SetKeyFromPassphrase(pass, 0))
	return kp
}

// TestRemoteTrackDecryptsOpus sends an Opus stream encrypted, every tenth
// packet with another key: the others decode, those are counted and
// concealed (or recovered), and the PCM keeps its length.
func TestRemoteTrackDecryptsOpus(t *testing.T) {
	const n = 100 // 2 s
	right, wrong := passphraseKeys(t, "pass"), passphraseKeys(t, "not the pass")
	encRight, err := e2ee.NewFrameEncryptor(right, "alice", e2ee.CodecOpus)
	require.NoError(t, err)
	encWrong, err := e2ee.NewFrameEncryptor(wrong, "alice", e2ee.CodecOpus)
	require.NoError(t, err)
	dec, err := e2ee.NewFrameDecryptor(right, "alice", e2ee.CodecOpus, nil)
	require.NoError(t, err)

	packets := opusStream(t, n)
	bad := 0
	for i, p := range packets {
		enc := encRight
		if i%10 == 5 {
			enc, bad = encWrong, bad+1
		}
		sealed, err := enc.EncryptFrame(p.Payload)
		require.NoError(t, err)
		packets[i] = &rtp.Packet{Header: p.Header, Payload: sealed}
	}

	src := newChanSource()
	out := newCollect()
	track, err := newPCMRemoteTrack(src, 1, out, WithTargetSampleRate(16000), WithHandleJitter(false), WithFrameTransformer(dec))
	require.NoError(t, err)
	for _, p := range packets {
		src.ch <- p
	}
	close(src.ch)
	select {
	case <-track.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the track did not end with its source")
	}
	<-out.closed
	st := track.Stats()
	t.Logf("%d packets sealed with the wrong key; %+v", bad, st)
	require.EqualValues(t, bad, st.TransformFailed)
	require.EqualValues(t, n-bad, st.Decoded)
	require.EqualValues(t, bad, st.Recovered+st.Concealed)
	require.Zero(t, st.Invalid)
	require.Equal(t, 2*16000, len(out.samples()), "the output keeps its length")
}
