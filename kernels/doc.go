// Package kernels holds the CPU pre- and post-processing steps that run around
// a model: image normalisation into an NCHW batch, softmax, sigmoid, argmax,
// top-k, L2 normalisation, clamping and truncation of embeddings.
//
// Every kernel takes and returns plain Go slices with a shape ([]float32 or
// []uint8 data, []int shape, row-major), so callers never see Gorgonia. Inside,
// the kernels are written with Gorgonia tensors (gorgonia.org/tensor) and run on
// its default CPU engine, tensor.StdEng. Tests compare each one with a plain-Go
// reference implementation over many shapes and values.
//
// Kernels that work "along the last axis" treat the data as rows: every axis but
// the last is a batch axis. The result for one row never depends on the other
// rows, or on how many rows were batched together: the same item alone and
// inside a batch of 64 gives bit-identical output (tested). Gorgonia's own
// StdEng.SoftMax is not used for that reason: in tensor v0.9.24 its last-axis
// path starts every row's running maximum at the first element of the whole
// tensor (and skips the row's own first element), so a row's result depends on
// the batch and a large value in another row can underflow it to 0/0. Softmax
// here is built from Max, Sub, Exp, Sum and Div along the last axis instead.
//
// The CUDA twins of Normalize, Softmax, TopK and L2Normalize are in kernels/cuda
// (gpu build tag), which registers them with RegisterGPU; SelfTest compares
// them with the CPU kernels.
package kernels
