package axon

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// NonceKeys is the number of hotkey:uuid keys the nonce store holds.
func NonceKeys(a *Axon) int { return a.nonces.len() }

// Refused returns how many requests were refused for reason (all reasons
// when empty).
func (a *Axon) Refused(reason string) float64 {
	var total float64
	for _, r := range Reasons {
		if reason == "" || r == reason {
			total += counterValue(a.met.refused.WithLabelValues(r))
		}
	}
	return total
}

// Accepted returns how many requests passed admission.
func (a *Axon) Accepted() float64 {
	var total float64
	for _, n := range a.names {
		total += counterValue(a.met.accepted.WithLabelValues(n))
	}
	return total
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}

// VerifySignature is the axon's signature check: the refusal reason and
// the SDK's message when sig does not verify.
func VerifySignature(a *Axon, hotkey, msg, sig string) (reason string, err error) {
	return a.verifySignature(hotkey, msg, sig)
}
