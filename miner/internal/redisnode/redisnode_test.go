package redisnode

import (
	"errors"
	"net/http"
	"testing"

	"github.com/taominer/taominer/api"
)

func TestErrorRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		msg    string
	}{
		{api.Errorf(http.StatusTooManyRequests, "queue full"), http.StatusTooManyRequests, "queue full"},
		{api.BadRequest("[400] looks like a prefix"), http.StatusBadRequest, "[400] looks like a prefix"},
		{errors.New("boom"), http.StatusInternalServerError, "boom"},
	} {
		got := decodeError(encodeError(tc.err))
		if got.Status != tc.status || got.Message != tc.msg {
			t.Errorf("round trip of %v = %d %q, want %d %q", tc.err, got.Status, got.Message, tc.status, tc.msg)
		}
	}
	if got := decodeError("no prefix"); got.Status != http.StatusInternalServerError || got.Message != "no prefix" {
		t.Errorf("decodeError(no prefix) = %d %q", got.Status, got.Message)
	}
}
