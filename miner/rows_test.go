package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/taominer/taominer/api"
)

// rowsOf returns the index rows of one model, in order.
func rowsOf(t *testing.T, tn *testNode, model string) []api.RepositoryIndexEntry {
	t.Helper()
	var rows []api.RepositoryIndexEntry
	for _, r := range index(t, tn, "") {
		if r.Name == model {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b api.RepositoryIndexEntry) int { return strings.Compare(a.Version, b.Version) })
	return rows
}

// TestBrokenYAMLOneRow breaks the config of a serving model (poll mode):
// the index shows one row, READY with "reload failed: " and the error in
// the file's words (file, line, key, what was expected), and the model
// keeps answering. A model whose config was broken from the start is one
// UNAVAILABLE row with the error.
func TestBrokenYAMLOneRow(t *testing.T) {
	dir := reloadRepo(t)
	writeFile(t, filepath.Join(dir, "never.onnx"), "not loaded: its config is broken")
	writeFile(t, filepath.Join(dir, "never.yaml"), "instance_group: {count: 1}\nmax_queue_delay: 100\n")
	tn := startNode(t, dir, pollFast)
	want := []api.RepositoryIndexEntry{{Name: "never", State: api.StateUnavailable,
		Reason: "model config " + filepath.Join(dir, "never.yaml") + ": line 2: unknown key max_queue_delay (the model config keys are " +
			"max_batch_size, dynamic_batching, instance_group, instances, gpus, gpu_min_free_mib, execution_provider, device_id, " +
			"fallback, intra_op_threads, version_policy, input, output)"}}
	if diff := cmp.Diff(want, rowsOf(t, tn, "never")); diff != "" {
		t.Errorf("rows of a model whose config never loaded (-want +got):\n%s", diff)
	}

	failures := tn.n.engine.LoadFailures()["row_sum"]
	writeFile(t, filepath.Join(dir, "row_sum.yaml"), "dynamic_batching:\n  max_queue_delay_microseconds: -5\n")
	waitFor(t, "the broken config to be tried", func() bool { return tn.n.engine.LoadFailures()["row_sum"] > failures })
	want = []api.RepositoryIndexEntry{{Name: "row_sum", Version: "1", State: api.StateReady,
		Reason: "reload failed: model config " + filepath.Join(dir, "row_sum.yaml") +
			": line 2: dynamic_batching.max_queue_delay_microseconds: -5 must not be negative"}}
	if diff := cmp.Diff(want, rowsOf(t, tn, "row_sum")); diff != "" {
		t.Errorf("rows of a serving model whose config broke (-want +got):\n%s", diff)
	}
	tn.infer(t, "/v2/models/row_sum/infer", rowSumInfer(), false)
}

// TestRemovedModelLeavesRows removes a model's files (poll mode): its rows
// leave the repository index and GET /v1/stats (whose rows the dashboard
// draws), and the other models stay.
func TestRemovedModelLeavesRows(t *testing.T) {
	dir := reloadRepo(t)
	tn := startNode(t, dir, pollFast)
	tn.infer(t, "/v2/models/row_sum/infer", rowSumInfer(), false)
	if err := os.Remove(filepath.Join(dir, "row_sum.onnx")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "row_sum to answer 404", func() bool {
		return tn.do(t, http.MethodGet, "/v2/models/row_sum/ready", nil, nil).status == http.StatusNotFound
	})
	if rows := rowsOf(t, tn, "row_sum"); len(rows) != 0 {
		t.Errorf("index rows of the removed row_sum = %+v, want none", rows)
	}
	s, _ := v1stats(t, tn)
	var names []string
	for _, m := range s.Models {
		names = append(names, m.Name+"/"+m.Version)
	}
	if diff := cmp.Diff([]string{"ppocr_cls/1"}, names); diff != "" {
		t.Errorf("/v1/stats models after removing row_sum (-want +got):\n%s", diff)
	}
}
