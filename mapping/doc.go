// Package mapping serves real subnets' synapses with a model and no code: a
// synapse mapping file, beside the model, names the synapse classes (routes)
// a model answers and says how the synapse's fields become the model's input
// tensors (pre-processing) and how its outputs become the answer's fields
// (post-processing), with the value to send when the miner cannot answer.
//
// The file format (version 1) is documented in docs/mappings.md. Decoding is strict: an unknown key, a wrong type
// or a bad value is a *FileError naming the file, the line and what was
// expected.
//
// A Mapping becomes axon kinds (Mapping.Kinds): each kind decodes the synapse,
// runs the pre-processing (kernels/imageproc and kernels; a tokenizer through
// the Tokenizer hook), splits list fields onto the model's batch axis in
// chunks, runs the model through an axon.Inferer (the engine or the Redis
// front, so the model stays reachable over KServe v2 and the Infer synapse),
// gathers the outputs back in order, post-processes them (kernels), checks
// that every number is finite and writes the answer's fields.
//
// A mapping may also declare Epistula routes (key epistula: a list of
// {method, path}): Mapping.EpistulaHandler answers them for callers that
// api/epistula/receiver admitted on the axon port, with the same inputs and outputs,
// from a JSON body of the input fields to a JSON object of the output
// fields. The Set is the receiver's receiver.Router. The format is
// documented in docs/epistula.md.
//
// A Set follows the model folder: it finds <model>/synapse.yaml and
// <model>.synapse.yaml, loads each, and answers the axon's KindSource
// lookups; a changed file is reloaded, and one that fails to load is logged
// while the mapping loaded before keeps serving.
//
// Layering: the package imports api, api/axon, api/axonproto,
// api/epistula/receiver, api/guard, kernels, kernels/imageproc and
// models/tensor only (never models, chain or miner), so it sits beside
// api/axon as
// the glue between the wire layer and the kernels; the miner command wires it.
// It is deliberately not internal/ (neither miner/internal, which api/ could not
// import, nor hidden under api/): the miner command imports it today, and the
// signed-HTTP (Epistula) edge under api/ is expected to serve the routes that
// mapping files declare, so both the wire layer and the command must reach it.
package mapping
