package recorder

import (
	"strings"
	"testing"
)

func TestTrackFileNames(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct{ identity, name, sid, want string }{
		{"alice", "camera", "TR_1", "alice_camera_TR_1"},
		{"", "", "", "unnamed_unnamed_unnamed"},
		{"..", "a/b", "TR_1", "unnamed_a-b_TR_1"},
		{".hidden", "../../x", "TR_1", "hidden_-..-x_TR_1"},
		{"bob", "名前", "TR_1", "bob_-_TR_1"},
	} {
		if got := trackFileBase(tc.identity, tc.name, tc.sid); got != tc.want {
			t.Errorf("trackFileBase(%q, %q, %q) = %q, want %q", tc.identity, tc.name, tc.sid, got, tc.want)
		}
	}
	a := trackFileBase(long, long+"a", long)
	b := trackFileBase(long, long+"b", long)
	if a == b {
		t.Fatalf("names that differ past the cut map to the same file %q", a)
	}
	if len(a) > maxIdentityPart+maxTrackPart+maxSIDPart+2+3*9 {
		t.Fatalf("%d bytes: %q", len(a), a)
	}
}
