// Package models is the model catalogue: it finds models in a repository
// folder, reads their optional configs, and defines what a loaded model looks
// like to the rest of the miner (Spec) and the contract a runtime backend
// fulfils (Session).
//
// Two layouts are accepted side by side in one folder:
//
//	<repo>/<model>/config.yaml          optional overrides
//	<repo>/<model>/<version>/model.onnx Triton's layout; version is a positive integer
//	<repo>/<name>.onnx                  dropped-in file, served as version 1
//	<repo>/<name>.yaml                  optional overrides for <name>.onnx
//
// Names starting with "." and files not ending in ".onnx" are ignored, so a
// file can be written under a temporary name and renamed into place.
//
// Inputs, outputs, data types, shapes and whether the first dimension is a
// dynamic batch axis come from the ONNX file itself; a config only overrides.
package models
