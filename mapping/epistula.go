package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/taominer/taominer/api"
	"github.com/taominer/taominer/api/axon"
	"github.com/taominer/taominer/api/axonproto"
	"github.com/taominer/taominer/api/epistula/receiver"
	"github.com/taominer/taominer/api/guard"
)

// epistulaMethods are the methods an Epistula route may have.
var epistulaMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// MaxEpistulaPath is the longest path an Epistula route may have.
const MaxEpistulaPath = 200

// epistulaRoutes reads the epistula key: a list of {method, path}.
func (p *parser) epistulaRoutes(n *yaml.Node) {
	items := p.list(n, "epistula")
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		p.failf(n, "epistula: expected at least one route {method, path}")
	}
	seen := map[EpistulaRoute]bool{}
	for _, it := range items {
		r := EpistulaRoute{Method: http.MethodPost}
		var pathNode *yaml.Node
		p.fields(it, "an epistula route", map[string]func(*yaml.Node){
			"method": func(v *yaml.Node) { r.Method = p.str(v, "epistula method") },
			"path":   func(v *yaml.Node) { pathNode = v; r.Path = p.str(v, "epistula path") },
		})
		if it.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case !isMethod(r.Method):
			p.failf(it, "epistula method %q: expected one of %s (upper case)", r.Method, strings.Join(epistulaMethods, ", "))
		case pathNode == nil:
			p.failf(it, "epistula route: missing key \"path\" (the URL path validators call, e.g. /v1/detect)")
		case checkEpistulaPath(r.Path) != "":
			p.failf(pathNode, "epistula path %q: %s", r.Path, checkEpistulaPath(r.Path))
		case seen[r]:
			p.failf(it, "epistula route %s listed twice", r)
		}
		seen[r] = true
		p.m.Epistula = append(p.m.Epistula, r)
	}
}

func isMethod(m string) bool {
	for _, x := range epistulaMethods {
		if m == x {
			return true
		}
	}
	return false
}

// checkEpistulaPath says what is wrong with path, or "".
func checkEpistulaPath(path string) string {
	switch {
	case !strings.HasPrefix(path, "/"):
		return "expected an absolute path starting with /"
	case len(path) > MaxEpistulaPath:
		return "longer than " + strconv.Itoa(MaxEpistulaPath) + " characters"
	case path == "/v2" || strings.HasPrefix(path, "/v2/"):
		return "paths under /v2/ are the KServe v2 routes, served already; pick another"
	case strings.Contains(path, "//") || strings.Contains(path, "/./") || strings.Contains(path, "/../") ||
		strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/.."):
		return "expected a clean path (no //, . or .. segments)"
	}
	for _, c := range path {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/-_.~", c)) {
			return "expected letters, digits and / - _ . ~ only"
		}
	}
	return ""
}

// EpistulaHandler returns the handler of the mapping's Epistula routes:
// the request body (already admitted by api/epistula) is a JSON object of
// the fields the inputs read; the model runs through inf as for the
// synapses (with the signer's stake priority and the axon's default
// deadline); the answer is 200 with a JSON object of the output fields and
// the set fields, in file order, or the fallbacks when the model cannot
// answer and every output has one. Otherwise the answer is the error's
// status with {"error": ...}. route names it in logs and to obs.
func (m *Mapping) EpistulaHandler(route string, inf axon.Inferer, log *slog.Logger, obs FallbackObserver) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if obs == nil {
		obs = func(string, string, string) {}
	}
	log = log.With("epistula_route", route, "model", m.Model)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := guard.ReadAll(r.Body, r.ContentLength, nil)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, "reading the body: "+err.Error())
			return
		}
		syn := axonproto.NewSynapse()
		if len(bytes.TrimSpace(body)) > 0 {
			if syn, err = axonproto.ParseSynapse(body); err != nil {
				writeJSONError(w, http.StatusBadRequest, "body: expected a JSON object of the fields "+m.inputFields()+": "+err.Error())
				return
			}
		}
		call := &axon.Call{Synapse: syn, Timeout: axonproto.DefaultTimeout, Priority: axon.StakePriority(0)}
		if c, ok := receiver.CallerFrom(r.Context()); ok {
			call.Hotkey, call.Caller, call.Priority = c.Hotkey, c.Entry, axon.StakePriority(c.Entry.Stake)
		}
		ctx, cancel := context.WithTimeout(r.Context(), axon.ForwardTimeout(call.Timeout))
		defer cancel()
		if err := m.forward(ctx, inf, log, call, func(reason string) { obs(route, m.Model, reason) }); err != nil {
			status := api.StatusOf(err)
			msg := err.Error()
			if errors.Is(err, context.DeadlineExceeded) {
				status, msg = http.StatusServiceUnavailable, "deadline passed before the model answered"
			} else if status == http.StatusInternalServerError {
				id := axonproto.NewUUID()
				log.Error("epistula route failed", "error", err, "id", id)
				msg = "internal error #" + id
			}
			writeJSONError(w, status, msg)
			return
		}
		out := []byte{'{'}
		add := func(field string, raw json.RawMessage) {
			if len(out) > 1 {
				out = append(out, ',')
			}
			k, _ := json.Marshal(field)
			out = append(append(append(out, k...), ':'), raw...)
		}
		for _, o := range m.Outputs {
			v, _ := syn.Field(o.Field)
			add(o.Field, v)
		}
		for _, f := range m.Fixed {
			add(f.Field, f.Value)
		}
		out = append(out, '}')
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
	})
}

// inputFields lists the input fields for messages.
func (m *Mapping) inputFields() string {
	names := make([]string, len(m.Inputs))
	for i, in := range m.Inputs {
		names[i] = strconv.Quote(in.Field)
	}
	return strings.Join(names, ", ")
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(api.ErrorBody{Error: msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
