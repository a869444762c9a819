package metadata

import (
	"errors"
	"fmt"
	"strings"

	"github.com/taominer/taominer/chain/scale"
)

// EventRecord is one entry of System.Events.
type EventRecord struct {
	// Extrinsic is the index of the extrinsic in the block that emitted the event; -1 for events
	// of the block's initialization or finalization.
	Extrinsic int
	Pallet    string
	Name      string
	Fields    Value // the event's fields, as DecodeValue returns them
}

// DecodeEvents decodes the value of the System.Events storage item (Vec<EventRecord>).
func (m *Metadata) DecodeEvents(raw []byte) ([]EventRecord, error) {
	e, err := m.StorageEntry("System", "Events")
	if err != nil {
		return nil, err
	}
	d := scale.NewDecoder(raw)
	v, err := m.DecodeValue(d, e.ValueType)
	if err != nil {
		return nil, fmt.Errorf("metadata: System.Events: %w", err)
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("metadata: System.Events: %w", err)
	}
	list, _ := v.([]Value)
	out := make([]EventRecord, 0, len(list))
	for i, item := range list {
		rec, ok := item.(map[string]Value)
		if !ok {
			return nil, fmt.Errorf("metadata: System.Events[%d]: not a record", i)
		}
		er := EventRecord{Extrinsic: -1}
		if ph, ok := rec["phase"].(VariantValue); ok && ph.Name == "ApplyExtrinsic" {
			if n, ok := ph.Fields.(uint64); ok {
				er.Extrinsic = int(n)
			}
		}
		outer, ok := rec["event"].(VariantValue)
		if !ok {
			return nil, fmt.Errorf("metadata: System.Events[%d]: event is not an enum", i)
		}
		inner, ok := outer.Fields.(VariantValue)
		if !ok {
			return nil, fmt.Errorf("metadata: System.Events[%d]: %s event is not an enum", i, outer.Name)
		}
		er.Pallet, er.Name, er.Fields = outer.Name, inner.Name, inner.Fields
		out = append(out, er)
	}
	return out, nil
}

// DispatchError is a failed dispatch, resolved through the metadata where possible.
type DispatchError struct {
	Kind string // the DispatchError variant: "Module", "BadOrigin", "Token", …
	// Module is set for Kind "Module".
	Module *ModuleError
	// Detail carries the inner variant name for Token, Arithmetic and Transactional errors.
	Detail string
}

func (e *DispatchError) Error() string {
	switch {
	case e.Module != nil:
		s := "dispatch error: " + e.Module.Pallet + "." + e.Module.Name
		if len(e.Module.Docs) > 0 {
			s += ": " + strings.Join(e.Module.Docs, " ")
		}
		return s
	case e.Detail != "":
		return "dispatch error: " + e.Kind + "." + e.Detail
	}
	return "dispatch error: " + e.Kind
}

// ErrNoResult is returned by ExtrinsicResult when no ExtrinsicSuccess or ExtrinsicFailed event
// belongs to the extrinsic.
var ErrNoResult = errors.New("metadata: no ExtrinsicSuccess or ExtrinsicFailed event for the extrinsic")

// ExtrinsicResult looks through a block's events for the outcome of the extrinsic at index idx:
// nil for ExtrinsicSuccess, a *DispatchError for ExtrinsicFailed, ErrNoResult if neither is found.
func (m *Metadata) ExtrinsicResult(events []EventRecord, idx int) error {
	for _, ev := range events {
		if ev.Extrinsic != idx || ev.Pallet != "System" {
			continue
		}
		switch ev.Name {
		case "ExtrinsicSuccess":
			return nil
		case "ExtrinsicFailed":
			var de Value
			switch f := ev.Fields.(type) {
			case map[string]Value:
				de = f["dispatch_error"]
			case []Value:
				if len(f) > 0 {
					de = f[0]
				}
			}
			return m.DispatchError(de)
		}
	}
	return ErrNoResult
}

// DispatchError converts a decoded sp_runtime::DispatchError value into a *DispatchError,
// resolving module errors (pallet index, first byte of the error index) to their names.
func (m *Metadata) DispatchError(v Value) *DispatchError {
	vv, ok := v.(VariantValue)
	if !ok {
		return &DispatchError{Kind: "Unknown"}
	}
	de := &DispatchError{Kind: vv.Name}
	switch vv.Name {
	case "Module":
		f, _ := vv.Fields.(map[string]Value)
		idx, _ := f["index"].(uint64)
		var errIdx uint8
		switch e := f["error"].(type) {
		case []byte: // [u8; 4] in current runtimes
			if len(e) > 0 {
				errIdx = e[0]
			}
		case uint64: // u8 in old runtimes
			errIdx = uint8(e)
		}
		me, err := m.ModuleError(uint8(idx), errIdx)
		if err != nil {
			me = ModuleError{Pallet: fmt.Sprintf("pallet#%d", idx), Name: fmt.Sprintf("error#%d", errIdx)}
		}
		de.Module = &me
	default:
		if inner, ok := vv.Fields.(VariantValue); ok {
			de.Detail = inner.Name
		}
	}
	return de
}
