package onnx

// BoundRuns counts the session's runs that went through an I/O binding.
func (s *Session) BoundRuns() int64 { return s.boundRuns.Load() }

// ProviderError is providerError, for messages a GPU build gives.
var ProviderError = providerError
