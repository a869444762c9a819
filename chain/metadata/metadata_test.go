package metadata_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/taominer/taominer/chain/internal/fixtures"
	"github.com/taominer/taominer/chain/metadata"
	"github.com/taominer/taominer/chain/scale"
)

func load(t *testing.T, name string, opaque bool) *metadata.Metadata {
	t.Helper()
	b := fixtures.MetadataBlob(t, name)
	var (
		m   *metadata.Metadata
		err error
	)
	if opaque {
		m, err = metadata.DecodeOpaque(b)
	} else {
		m, err = metadata.Decode(b)
	}
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return m
}

var base = []string{"CheckNonZeroSender", "CheckSpecVersion", "CheckTxVersion", "CheckGenesis", "CheckMortality", "CheckNonce", "CheckWeight", "ChargeTransactionPayment"}

// Extension lists per spec, from the fixture README (runtime-metadata/README.md) and spec §5.3.
var wantExtensions = map[uint32][]string{
	218: append(slices.Clone(base), "SubtensorSignedExtension", "CommitmentsSignedExtension", "CheckMetadataHash"),
	300: append(slices.Clone(base), "SubtensorTransactionExtension", "CheckMetadataHash"),
	343: append(slices.Clone(base), "SubtensorTransactionExtension", "DrandPriority", "CheckMetadataHash"),
	346: append(slices.Clone(base), "SubtensorTransactionExtension", "DrandPriority", "CheckMetadataHash"),
	381: append(slices.Clone(base), "SudoTransactionExtension", "SubtensorTransactionExtension", "DrandPriority", "CheckMetadataHash"),
}

func TestMetadataFixtures(t *testing.T) {
	for _, f := range fixtures.MetadataFiles {
		t.Run(f.Name, func(t *testing.T) {
			m := load(t, f.Name, f.Opaque)
			if m.Version != f.Version {
				t.Errorf("version = %d, want %d", m.Version, f.Version)
			}
			rv, err := m.RuntimeVersion()
			if err != nil || rv.SpecVersion != f.Spec || rv.TransactionVersion != 1 || rv.SpecName != "node-subtensor" {
				t.Errorf("RuntimeVersion = %+v, %v; want spec %d, tx 1", rv, err, f.Spec)
			}
			if !slices.Contains(m.Extrinsic.Versions, 4) {
				t.Errorf("extrinsic versions %v lack 4", m.Extrinsic.Versions)
			}

			var names []string
			for _, e := range m.Extrinsic.Extensions {
				names = append(names, e.Identifier)
			}
			if !slices.Equal(names, wantExtensions[f.Spec]) {
				t.Errorf("extensions = %v\nwant %v", names, wantExtensions[f.Spec])
			}
			// Only CheckMortality, CheckNonce, ChargeTransactionPayment and CheckMetadataHash
			// carry explicit bytes; only spec/tx version, genesis, mortality and metadata hash
			// carry implicit bytes (runtime-metadata/README.md).
			explicit := map[string]bool{"CheckMortality": true, "CheckNonce": true, "ChargeTransactionPayment": true, "CheckMetadataHash": true}
			implicit := map[string]bool{"CheckSpecVersion": true, "CheckTxVersion": true, "CheckGenesis": true, "CheckMortality": true, "CheckMetadataHash": true}
			for _, e := range m.Extrinsic.Extensions {
				if m.ZeroSized(e.Type) == explicit[e.Identifier] || m.ZeroSized(e.Implicit) == implicit[e.Identifier] {
					t.Errorf("%s: zero-sized explicit %v implicit %v", e.Identifier, m.ZeroSized(e.Type), m.ZeroSized(e.Implicit))
				}
			}

			// Call indices (spec §5.1).
			for _, c := range []struct {
				name string
				idx  uint8
				args []string
			}{
				{"burned_register", 7, []string{"netuid", "hotkey"}},
				{"serve_axon", 4, []string{"netuid", "version", "ip", "port", "ip_type", "protocol", "placeholder1", "placeholder2"}},
				{"serve_prometheus", 5, []string{"netuid", "version", "ip", "port", "ip_type"}},
				{"register", 6, []string{"netuid", "block_number", "nonce", "work", "hotkey", "coldkey"}},
				{"set_weights", 0, []string{"netuid", "dests", "weights", "version_key"}},
			} {
				call, err := m.Call("SubtensorModule", c.name)
				if err != nil {
					t.Errorf("Call(%s): %v", c.name, err)
					continue
				}
				var args []string
				for _, a := range call.Args {
					args = append(args, a.Name)
				}
				if call.PalletIndex != 7 || call.CallIndex != c.idx || !slices.Equal(args, c.args) {
					t.Errorf("Call(%s) = %d.%d %v, want 7.%d %v", c.name, call.PalletIndex, call.CallIndex, args, c.idx, c.args)
				}
			}
			// register_limit arrives with spec 401; none of the fixtures has it.
			if _, err := m.Call("SubtensorModule", "register_limit"); !errors.Is(err, metadata.ErrNotFound) {
				t.Errorf("Call(register_limit) error = %v, want ErrNotFound", err)
			}
			if _, err := m.Call("NoSuchPallet", "x"); !errors.Is(err, metadata.ErrNotFound) {
				t.Errorf("unknown pallet error = %v", err)
			}

			// Storage hashers (spec §3.2).
			H := metadata.Identity
			B := metadata.Blake2_128Concat
			for _, s := range []struct {
				pallet, item string
				hashers      []metadata.Hasher
				required     bool
			}{
				{"SubtensorModule", "Uids", []metadata.Hasher{H, B}, true},
				{"SubtensorModule", "Keys", []metadata.Hasher{H, H}, true},
				{"SubtensorModule", "Axons", []metadata.Hasher{H, B}, true},
				{"SubtensorModule", "Prometheus", []metadata.Hasher{H, B}, true},
				{"SubtensorModule", "Owner", []metadata.Hasher{B}, true},
				{"SubtensorModule", "IsNetworkMember", []metadata.Hasher{B, H}, true},
				{"SubtensorModule", "BlockAtRegistration", []metadata.Hasher{H, H}, true},
				{"SubtensorModule", "Burn", []metadata.Hasher{H}, true},
				{"SubtensorModule", "TotalHotkeyAlpha", []metadata.Hasher{B, H}, f.Spec >= 300},
				{"SubtensorModule", "MechanismCountCurrent", []metadata.Hasher{metadata.Twox64Concat}, f.Spec >= 343},
				{"System", "Account", []metadata.Hasher{B}, true},
			} {
				e, err := m.StorageEntry(s.pallet, s.item)
				if err != nil {
					if s.required {
						t.Errorf("StorageEntry(%s.%s): %v", s.pallet, s.item, err)
					}
					continue
				}
				if !slices.Equal(e.Hashers, s.hashers) {
					t.Errorf("%s.%s hashers = %v, want %v", s.pallet, s.item, e.Hashers, s.hashers)
				}
				if kt, err := m.KeyTypes(e); err != nil || len(kt) != len(s.hashers) {
					t.Errorf("%s.%s key types = %v, %v", s.pallet, s.item, kt, err)
				}
			}
			if e, err := m.StorageEntry("SubtensorModule", "TotalNetworks"); err != nil || !e.Plain {
				t.Errorf("TotalNetworks = %+v, %v; want a plain entry", e, err)
			}

			// MultiAddress::Id is variant 0, MultiSignature::Sr25519 is variant 1 (spec §2).
			checkVariant(t, m, m.Extrinsic.AddressType, "Id", 0)
			checkVariant(t, m, m.Extrinsic.SignatureType, "Sr25519", 1)

			// Module errors resolve by (pallet index, error index).
			errType, _ := m.Type(*mustPallet(t, m, "SubtensorModule").Errors)
			v, ok := errType.Def.VariantByName("HotKeyAlreadyRegisteredInSubNet")
			if !ok {
				t.Fatal("SubtensorModule has no HotKeyAlreadyRegisteredInSubNet error")
			}
			me, err := m.ModuleError(7, v.Index)
			if err != nil || me.Pallet != "SubtensorModule" || me.Name != "HotKeyAlreadyRegisteredInSubNet" || len(me.Docs) == 0 {
				t.Errorf("ModuleError(7, %d) = %+v, %v", v.Index, me, err)
			}
			if _, err := m.ModuleError(7, 255); !errors.Is(err, metadata.ErrNotFound) {
				t.Errorf("ModuleError(7, 255) error = %v", err)
			}

			// Runtime APIs (v15+).
			method, err := m.RuntimeAPIMethod("NeuronInfoRuntimeApi", "get_neurons_lite")
			switch {
			case f.Version == 14:
				if !errors.Is(err, metadata.ErrNotFound) {
					t.Errorf("v14 RuntimeAPIMethod error = %v", err)
				}
			case err != nil:
				t.Errorf("RuntimeAPIMethod: %v", err)
			default:
				if len(method.Inputs) != 1 || method.Inputs[0].Name != "netuid" {
					t.Errorf("get_neurons_lite inputs = %+v", method.Inputs)
				}
				if f.Name == "metadata_at_version15_spec343.hex" && method.Output != 633 {
					t.Errorf("get_neurons_lite output type = %d, want 633 (fixture README)", method.Output)
				}
				out, _ := m.Type(method.Output)
				if out.Def.Kind != metadata.KindSequence {
					t.Errorf("get_neurons_lite output kind = %v, want sequence", out.Def.Kind)
				}
			}
		})
	}
}

func mustPallet(t *testing.T, m *metadata.Metadata, name string) *metadata.Pallet {
	t.Helper()
	p, err := m.Pallet(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkVariant(t *testing.T, m *metadata.Metadata, id uint32, name string, idx uint8) {
	t.Helper()
	ty, err := m.Type(id)
	if err != nil {
		t.Fatalf("type %d: %v", id, err)
	}
	v, ok := ty.Def.VariantByName(name)
	if !ok || v.Index != idx {
		t.Errorf("%s: variant %s = %+v, want index %d", ty.PathString(), name, v, idx)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := fixtures.MetadataBlob(t, "metadata-spec218-v14.scale")
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"no magic", []byte("nope\x0e"), nil},
		{"v13", []byte("meta\x0d"), metadata.ErrUnsupportedVersion},
		{"truncated", good[:len(good)/2], scale.ErrShortInput},
		{"trailing", append(slices.Clone(good), 0), scale.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := metadata.Decode(tt.in)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := metadata.DecodeOpaque([]byte{0}); !errors.Is(err, metadata.ErrUnsupportedVersion) {
		t.Fatalf("DecodeOpaque(None) error = %v", err)
	}
}

// TestEvents builds a System.Events value by hand for the spec-343 runtime (indices looked up
// in the metadata) and checks that the type-driven decoder finds the failed extrinsic and names
// its module error.
func TestEvents(t *testing.T) {
	m := load(t, "metadata_at_version15_spec343.hex", true)
	sysEvents, _ := m.Type(*mustPallet(t, m, "System").Events)
	failed, _ := sysEvents.Def.VariantByName("ExtrinsicFailed")
	success, _ := sysEvents.Def.VariantByName("ExtrinsicSuccess")
	errType, _ := m.Type(*mustPallet(t, m, "SubtensorModule").Errors)
	notEnough, ok := errType.Def.VariantByName("NotEnoughBalanceToStake")
	if !ok {
		t.Fatal("no NotEnoughBalanceToStake error")
	}
	dispatchInfo := []byte{0x04, 0x08, 0x00, 0x00} // weight {ref_time 1, proof_size 2}, class Normal, pays Yes
	var b []byte
	b = scale.AppendCompact(b, 2)
	// Event 1: ApplyExtrinsic(0), System.ExtrinsicSuccess{dispatch_info}, no topics.
	b = append(b, 0x00)
	b = scale.AppendU32(b, 0)
	b = append(b, 0x00, success.Index)
	b = append(b, dispatchInfo...)
	b = append(b, 0x00)
	// Event 2: ApplyExtrinsic(1), System.ExtrinsicFailed{Module{index 7, error [i,0,0,0]}, info}.
	b = append(b, 0x00)
	b = scale.AppendU32(b, 1)
	b = append(b, 0x00, failed.Index)
	de, _ := m.Type(failedErrorType(t, m, failed))
	mod, _ := de.Def.VariantByName("Module")
	b = append(b, mod.Index, 7, notEnough.Index, 0, 0, 0)
	b = append(b, dispatchInfo...)
	b = append(b, 0x00)

	events, err := m.DecodeEvents(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Name != "ExtrinsicSuccess" || events[1].Extrinsic != 1 {
		t.Fatalf("events = %+v", events)
	}
	if err := m.ExtrinsicResult(events, 0); err != nil {
		t.Errorf("ExtrinsicResult(0) = %v, want nil", err)
	}
	err = m.ExtrinsicResult(events, 1)
	var dErr *metadata.DispatchError
	if !errors.As(err, &dErr) || dErr.Module == nil || dErr.Module.Name != "NotEnoughBalanceToStake" || !strings.Contains(err.Error(), "SubtensorModule.NotEnoughBalanceToStake") {
		t.Errorf("ExtrinsicResult(1) = %v", err)
	}
	if err := m.ExtrinsicResult(events, 5); !errors.Is(err, metadata.ErrNoResult) {
		t.Errorf("ExtrinsicResult(5) = %v, want ErrNoResult", err)
	}
}

func failedErrorType(t *testing.T, m *metadata.Metadata, v *metadata.Variant) uint32 {
	t.Helper()
	for _, f := range v.Fields {
		if f.Name == "dispatch_error" {
			return f.Type
		}
	}
	t.Fatal("ExtrinsicFailed has no dispatch_error field")
	return 0
}
