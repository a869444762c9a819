package redisnode

import (
	"errors"
	"net/http"
	"testing"

	"github.com/taominer/taominer/api"
)

func TestErrorRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind api.Kind
		msg  string
	}{
		{api.Fail(api.KindBusy, "queue full"), api.KindBusy, "queue full"},
		{api.Errorf(http.StatusTooManyRequests, "queue full"), api.KindBusy, "queue full"},
		{api.BadRequest("[400] looks like a prefix"), api.KindBadInput, "[400] looks like a prefix"},
		{api.Fail(api.KindCancelled, "[busy] gone"), api.KindCancelled, "[busy] gone"},
		{errors.New("boom"), api.KindInternal, "boom"},
	} {
		got := decodeError(encodeError(tc.err))
		if got.Kind != tc.kind || got.Message != tc.msg {
			t.Errorf("round trip of %v = %v %q, want %v %q", tc.err, got.Kind, got.Message, tc.kind, tc.msg)
		}
	}
	for _, tc := range []struct {
		msg    string
		status int
		text   string
	}{
		{"no prefix", http.StatusInternalServerError, "no prefix"},
		{"[503] from an older worker", http.StatusServiceUnavailable, "from an older worker"},
		{"[nonsense] kind", http.StatusInternalServerError, "[nonsense] kind"},
	} {
		if got := decodeError(tc.msg); api.StatusOf(got) != tc.status || got.Message != tc.text {
			t.Errorf("decodeError(%q) = %d %q, want %d %q", tc.msg, api.StatusOf(got), got.Message, tc.status, tc.text)
		}
	}
}
