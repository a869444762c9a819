package axonproto

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Header names of the Bittensor synapse wire format (spec §1.2, §2.3). They
// are lower case with underscores and must stay so on the wire.
const (
	HeaderName             = "name"
	HeaderTimeout          = "timeout"
	HeaderHeaderSize       = "header_size"
	HeaderTotalSize        = "total_size"
	HeaderComputedBodyHash = "computed_body_hash"
	PrefixAxon             = "bt_header_axon_"
	PrefixDendrite         = "bt_header_dendrite_"
	PrefixInputObj         = "bt_header_input_obj_"
)

// TerminalInfo is the SDK's TerminalInfo: what one end of a call says about
// itself. Nil fields are JSON null and are left out of headers. Field order
// is the SDK's, which is also the JSON order.
type TerminalInfo struct {
	StatusCode    *int64   `json:"status_code"`
	StatusMessage *string  `json:"status_message"`
	ProcessTime   *float64 `json:"process_time"`
	IP            *string  `json:"ip"`
	Port          *int64   `json:"port"`
	Version       *int64   `json:"version"`
	Nonce         *int64   `json:"nonce"`
	UUID          *string  `json:"uuid"`
	Hotkey        *string  `json:"hotkey"`
	Signature     *string  `json:"signature"`
}

// Headers passes the terminal's non-nil fields to add as prefix+field
// headers, formatted as Python's str() does.
func (t *TerminalInfo) Headers(prefix string, add func(k, v string)) {
	num := func(k string, v *int64) {
		if v != nil {
			add(prefix+k, strconv.FormatInt(*v, 10))
		}
	}
	str := func(k string, v *string) {
		if v != nil {
			add(prefix+k, *v)
		}
	}
	num("status_code", t.StatusCode)
	str("status_message", t.StatusMessage)
	if t.ProcessTime != nil {
		add(prefix+"process_time", PyFloat(*t.ProcessTime))
	}
	str("ip", t.IP)
	num("port", t.Port)
	num("version", t.Version)
	num("nonce", t.Nonce)
	str("uuid", t.UUID)
	str("hotkey", t.Hotkey)
	str("signature", t.Signature)
}

// ParseTerminalHeaders reads the prefix+field headers (prefix PrefixAxon or
// PrefixDendrite) through get, as the SDK's from_headers does: integers
// must parse as integers and process_time as a float.
func ParseTerminalHeaders(prefix string, get func(string) string) (TerminalInfo, error) {
	var t TerminalInfo
	var errs []error
	num := func(k string) *int64 {
		s := get(prefix + k)
		if s == "" {
			return nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("header %s%s: want an integer, got %q", prefix, k, s))
			return nil
		}
		return &n
	}
	str := func(k string) *string {
		if s := get(prefix + k); s != "" {
			return &s
		}
		return nil
	}
	t.StatusCode = num("status_code")
	t.StatusMessage = str("status_message")
	if s := get(prefix + "process_time"); s != "" {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("header %sprocess_time: want a number, got %q", prefix, s))
		} else {
			t.ProcessTime = &f
		}
	}
	t.IP = str("ip")
	t.Port = num("port")
	t.Version = num("version")
	t.Nonce = num("nonce")
	t.UUID = str("uuid")
	t.Hotkey = str("hotkey")
	t.Signature = str("signature")
	return t, errors.Join(errs...)
}
