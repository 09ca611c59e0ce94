package lksdk_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// badInputTests names, for each row of the README's bad-input table (by
// the start of its first cell), the tests that exercise it.
var badInputTests = map[string][]string{
	"bad URL":                    {"TestConnectFailuresCarryTheServersReason", "TestBadServerURLs"},
	"wrong API key or secret":    {"TestConnectFailuresCarryTheServersReason", "TestWrongSecretIsUnauthenticated"},
	"expired token":              {"TestConnectFailuresCarryTheServersReason"},
	"token without the grant":    {"TestConnectFailuresCarryTheServersReason", "TestServerAPIGrantsArePrecise"},
	"server unreachable":         {"TestConnectFailuresCarryTheServersReason"},
	"unknown file type":          {"TestUnknownFileTypes"},
	"corrupt or truncated media": {"TestCorruptInputEndsTheTrackWithoutPanic", "FuzzReaderSampleProvider"},
	"impossible timing": {"TestCorruptIVFTimingStopsTheTrackAtTheBadFrame", "TestCorruptH264TimingStopsTheTrackAtTheBadSPS",
		"TestImpossibleSampleDurationStopsTheWrite"},
	"malformed signal message": {"TestMalformedJoinIsAConnectError", "TestMalformedSignalResponsesMidSession",
		"TestMalformedJoinOnFullReconnect", "FuzzSignalResponse"},
	"keyframe request flood":             {"TestKeyFrameRequestsAreRateLimitedAndReplaysPaced", "TestPLIFloodThroughTheServer"},
	"refused join whose `/rtc/validate`": {"TestValidateAsksThroughTheDialerAndFollowsNoRedirect"},
	"data packet over 64 KiB":            {"TestOversizedDataIsRefused"},
	"signal response flood": {"TestSignalFloodToSlowCallbackStaysBounded", "TestCallbackOverflowClosesTheRoom",
		"TestSignalReaderWaitsForTheLoopAndCloseEndsIt"},
	"server gone during a session": {"TestServerGoneForGoodEndsTheRoomOnce"},
}

// Every row of the README's bad-input table has a test, and every test
// named for a row exists.
func TestBadInputTableRowsHaveTests(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var rows []string
	in := false
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case strings.HasPrefix(line, "| bad input |"):
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "| "):
			rows = append(rows, strings.TrimSpace(strings.Split(line[1:], "|")[0]))
		default:
			in = false
		}
	}
	require.NotEmpty(t, rows, "the README has a bad-input table")

	tests := testFuncs(t)
	used := map[string]bool{}
	for _, row := range rows {
		var names []string
		for prefix, ns := range badInputTests {
			if strings.HasPrefix(row, prefix) {
				names, used[prefix] = ns, true
			}
		}
		require.NotEmpty(t, names, "no test named for the README row %q", row)
		for _, n := range names {
			require.True(t, tests[n], "README row %q: no test %s", row, n)
		}
	}
	for prefix := range badInputTests {
		require.True(t, used[prefix], "tests named for a row %q the README no longer has", prefix)
	}
}

// testFuncs returns the names of the Test and Fuzz functions in this
// directory.
func testFuncs(t *testing.T) map[string]bool {
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil {
				out[fn.Name.Name] = true
			}
		}
	}
	return out
}
