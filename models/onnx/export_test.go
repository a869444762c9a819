package onnx

// BoundRuns counts runs that went through an I/O binding.
var BoundRuns = &boundRuns
