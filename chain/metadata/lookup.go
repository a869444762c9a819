package metadata

import (
	"fmt"

	"github.com/taominer/taominer/chain/scale"
)

// Type returns the registry type with the given id.
func (m *Metadata) Type(id uint32) (*Type, error) {
	if int(id) >= len(m.Types) {
		return nil, fmt.Errorf("%w: type id %d", ErrNotFound, id)
	}
	return &m.Types[id], nil
}

// Pallet returns the pallet called name.
func (m *Metadata) Pallet(name string) (*Pallet, error) {
	for i := range m.Pallets {
		if m.Pallets[i].Name == name {
			return &m.Pallets[i], nil
		}
	}
	return nil, fmt.Errorf("%w: pallet %s", ErrNotFound, name)
}

// PalletByIndex returns the pallet with the given index.
func (m *Metadata) PalletByIndex(idx uint8) (*Pallet, error) {
	for i := range m.Pallets {
		if m.Pallets[i].Index == idx {
			return &m.Pallets[i], nil
		}
	}
	return nil, fmt.Errorf("%w: pallet index %d", ErrNotFound, idx)
}

// Call describes one dispatchable call: its two-byte index and its arguments.
type Call struct {
	Pallet      string
	Name        string
	PalletIndex uint8
	CallIndex   uint8
	Args        []Field
}

// Call returns the call name of pallet (names as in the metadata, e.g. "SubtensorModule",
// "burned_register").
func (m *Metadata) Call(pallet, name string) (Call, error) {
	p, err := m.Pallet(pallet)
	if err != nil {
		return Call{}, err
	}
	if p.Calls == nil {
		return Call{}, fmt.Errorf("%w: pallet %s has no calls", ErrNotFound, pallet)
	}
	t, err := m.Type(*p.Calls)
	if err != nil {
		return Call{}, err
	}
	v, ok := t.Def.VariantByName(name)
	if !ok {
		return Call{}, fmt.Errorf("%w: call %s.%s", ErrNotFound, pallet, name)
	}
	return Call{Pallet: p.Name, Name: v.Name, PalletIndex: p.Index, CallIndex: v.Index, Args: v.Fields}, nil
}

// StorageEntry returns the storage item name of pallet.
func (m *Metadata) StorageEntry(pallet, name string) (*StorageEntry, error) {
	p, err := m.Pallet(pallet)
	if err != nil {
		return nil, err
	}
	for i := range p.Storage {
		if p.Storage[i].Name == name {
			return &p.Storage[i], nil
		}
	}
	return nil, fmt.Errorf("%w: storage %s.%s", ErrNotFound, pallet, name)
}

// KeyTypes returns the type of each key part of a map entry, one per hasher.
func (m *Metadata) KeyTypes(e *StorageEntry) ([]uint32, error) {
	if e.Plain {
		return nil, nil
	}
	if len(e.Hashers) == 1 {
		return []uint32{e.KeyType}, nil
	}
	t, err := m.Type(e.KeyType)
	if err != nil {
		return nil, err
	}
	if t.Def.Kind != KindTuple || len(t.Def.Tuple) != len(e.Hashers) {
		return nil, fmt.Errorf("metadata: storage %s: key type %d is not a %d-tuple", e.Name, e.KeyType, len(e.Hashers))
	}
	return t.Def.Tuple, nil
}

// Constant returns the constant name of pallet.
func (m *Metadata) Constant(pallet, name string) (*Constant, error) {
	p, err := m.Pallet(pallet)
	if err != nil {
		return nil, err
	}
	for i := range p.Constants {
		if p.Constants[i].Name == name {
			return &p.Constants[i], nil
		}
	}
	return nil, fmt.Errorf("%w: constant %s.%s", ErrNotFound, pallet, name)
}

// ModuleError is a pallet error resolved through the metadata.
type ModuleError struct {
	Pallet string
	Name   string
	Docs   []string
}

// ModuleError resolves DispatchError::Module{index, error} to the error's name and docs.
func (m *Metadata) ModuleError(palletIndex, errorIndex uint8) (ModuleError, error) {
	p, err := m.PalletByIndex(palletIndex)
	if err != nil {
		return ModuleError{}, err
	}
	if p.Errors == nil {
		return ModuleError{}, fmt.Errorf("%w: pallet %s has no errors", ErrNotFound, p.Name)
	}
	t, err := m.Type(*p.Errors)
	if err != nil {
		return ModuleError{}, err
	}
	v, ok := t.Def.VariantByIndex(errorIndex)
	if !ok {
		return ModuleError{}, fmt.Errorf("%w: error %d of pallet %s", ErrNotFound, errorIndex, p.Name)
	}
	return ModuleError{Pallet: p.Name, Name: v.Name, Docs: v.Docs}, nil
}

// RuntimeAPIMethod returns the method of runtime API api (e.g. "NeuronInfoRuntimeApi",
// "get_neurons_lite"). It needs v15 or later metadata.
func (m *Metadata) RuntimeAPIMethod(api, method string) (*RuntimeAPIMethod, error) {
	if m.Version < 15 {
		return nil, fmt.Errorf("%w: runtime API %s_%s: metadata v%d has no runtime APIs", ErrNotFound, api, method, m.Version)
	}
	for i := range m.APIs {
		if m.APIs[i].Name != api {
			continue
		}
		for j := range m.APIs[i].Methods {
			if m.APIs[i].Methods[j].Name == method {
				return &m.APIs[i].Methods[j], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: runtime API %s_%s", ErrNotFound, api, method)
}

// RuntimeVersion is the leading part of sp_version::RuntimeVersion.
type RuntimeVersion struct {
	SpecName           string
	ImplName           string
	AuthoringVersion   uint32
	SpecVersion        uint32
	ImplVersion        uint32
	TransactionVersion uint32
}

// RuntimeVersion decodes the System.Version constant embedded in the metadata.
func (m *Metadata) RuntimeVersion() (RuntimeVersion, error) {
	c, err := m.Constant("System", "Version")
	if err != nil {
		return RuntimeVersion{}, err
	}
	d := scale.NewDecoder(c.Value)
	v := RuntimeVersion{SpecName: d.Str(), ImplName: d.Str(), AuthoringVersion: d.U32(), SpecVersion: d.U32(), ImplVersion: d.U32()}
	n := d.Len(12)
	d.Skip(12 * n) // apis: Vec<([u8; 8], u32)>
	v.TransactionVersion = d.U32()
	if err := d.Err(); err != nil {
		return RuntimeVersion{}, fmt.Errorf("metadata: System.Version: %w", err)
	}
	return v, nil
}

// ZeroSized reports whether values of type id always encode to no bytes (an empty composite or
// tuple, a zero-length array, or any nesting of those), as the implicit and explicit parts of
// most transaction extensions do.
func (m *Metadata) ZeroSized(id uint32) bool {
	return m.zeroSized(id, 0)
}

func (m *Metadata) zeroSized(id uint32, depth int) bool {
	t, err := m.Type(id)
	if err != nil || depth > 32 {
		return false
	}
	switch t.Def.Kind {
	case KindComposite:
		for _, f := range t.Def.Fields {
			if !m.zeroSized(f.Type, depth+1) {
				return false
			}
		}
		return true
	case KindTuple:
		for _, e := range t.Def.Tuple {
			if !m.zeroSized(e, depth+1) {
				return false
			}
		}
		return true
	case KindArray:
		return t.Def.Len == 0 || m.zeroSized(t.Def.Elem, depth+1)
	}
	return false
}
