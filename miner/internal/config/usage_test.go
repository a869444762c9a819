package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the config table in docs/configuration.md")

// docPath is the configuration reference, docs/configuration.md, seen from
// this package's directory.
const docPath = "../../../docs/configuration.md"

// The configuration reference holds MarkdownTable between these markers.
const (
	tableStart = "<!-- config-table:start -->"
	tableEnd   = "<!-- config-table:end -->"
)

func TestServeUsage(t *testing.T) {
	var b strings.Builder
	ServeUsage(&b)
	help := b.String()
	if !strings.HasPrefix(help, "Usage: miner serve") {
		t.Errorf("help does not start with the usage line:\n%s", help)
	}
	for _, want := range []string{"--config FILE", "TAOMINER_CONFIG", "--help"} {
		if !strings.Contains(help, want) {
			t.Errorf("help does not mention %q", want)
		}
	}
	for _, o := range serveOptions.opts {
		for _, want := range []string{
			"  --" + o.flag + " ",
			"env " + o.env + ",",
			"yaml " + o.yaml + ",",
			"default " + o.quoted(o.def) + "\n",
			o.help,
		} {
			if !strings.Contains(help, want) {
				t.Errorf("help of %s does not contain %q", o.yaml, want)
			}
		}
	}
}

func TestMarkdownTable(t *testing.T) {
	table := MarkdownTable()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if want := 2 + 1 + len(serveOptions.opts); len(lines) != want {
		t.Fatalf("table has %d lines, want %d:\n%s", len(lines), want, table)
	}
	for i, line := range lines {
		// Five cells: six unescaped pipes.
		if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != 6 {
			t.Errorf("line %d has %d cell borders, want 6: %s", i+1, n, line)
		}
	}
	for _, want := range []string{"`--http-addr ADDR` | `TAOMINER_HTTP_ADDR` | `http_addr` | `:8000` |", "| `onnxruntime_lib` | `\"\"` |", "`--config FILE`"} {
		if !strings.Contains(table, want) {
			t.Errorf("table does not contain %q:\n%s", want, table)
		}
	}
}

// splitDoc cuts text around the config table markers.
func splitDoc(text string) (before, table, after string, ok bool) {
	before, rest, ok1 := strings.Cut(text, tableStart)
	table, after, ok2 := strings.Cut(rest, tableEnd)
	return before, table, after, ok1 && ok2
}

func TestSplitDoc(t *testing.T) {
	before, table, after, ok := splitDoc("# x\n" + tableStart + "\n| a |\n" + tableEnd + "\nend\n")
	if !ok || before != "# x\n" || table != "\n| a |\n" || after != "\nend\n" {
		t.Errorf("splitDoc = %q, %q, %q, %v", before, table, after, ok)
	}
	if _, _, _, ok := splitDoc("no markers"); ok {
		t.Error("splitDoc found markers in text without them")
	}
}

// TestDocsConfigTable checks that docs/configuration.md holds
// MarkdownTable() between the config-table markers. Rewrite the table with:
//
//	go test ./miner/internal/config -run DocsConfigTable -update
func TestDocsConfigTable(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	before, table, after, ok := splitDoc(string(data))
	if !ok {
		t.Fatalf("docs/configuration.md lacks the markers %s and %s around the config table", tableStart, tableEnd)
	}
	want := MarkdownTable()
	if *update {
		text := before + tableStart + "\n" + want + tableEnd + after
		if err := os.WriteFile(docPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if strings.TrimSpace(table) != strings.TrimSpace(want) {
		t.Errorf("docs/configuration.md config table is stale; run: go test ./miner/internal/config -run DocsConfigTable -update\nwant:\n%s", want)
	}
}
