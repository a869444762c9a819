package config

import (
	"fmt"
	"io"
	"strings"
)

// configHelp describes the built-in --config option.
const configHelp = "Optional YAML file of options keyed by their YAML names; unknown keys are errors."

// ServeUsage writes the help of `miner serve`: a usage line, the precedence
// rules, and one block per option with its flag, environment variable, YAML
// key, default and description.
func ServeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString(`Usage: miner serve [options]

Serve the models of the model repository over the KServe v2 HTTP API.

Every option can be set by a flag, an environment variable, or a key of the
YAML file named by --config. Flags win over environment variables, which win
over the file, which wins over the defaults. Durations use Go syntax
("250ms", "1m30s"). A malformed value or an unknown YAML key is an error.

Options:

`)
	fmt.Fprintf(&b, "  --%s FILE\n      %s\n      env %s\n\n", configFlag, configHelp, configEnv)
	for _, o := range serveOptions.opts {
		fmt.Fprintf(&b, "  %s\n      %s\n      env %s, yaml %s, default %s\n\n",
			o.usageFlag(), o.description(), o.env, o.yaml, o.quoted(o.def))
	}
	b.WriteString("  -h, --help\n      Print this help and exit.\n")
	io.WriteString(w, b.String())
}

// MarkdownTable returns the serve options as a Markdown table (flag,
// environment variable, YAML key, default, description) for
// docs/configuration.md, where it sits between the markers <!-- config-table:start --> and
// <!-- config-table:end -->.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Flag | Environment variable | YAML key | Default | Description |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	row := func(cells ...string) {
		for i := range cells {
			cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	row("`--"+configFlag+" FILE`", "`"+configEnv+"`", "", "", configHelp)
	for _, o := range serveOptions.opts {
		def := o.format(o.def)
		if def == "" {
			def = `""`
		}
		row("`"+o.usageFlag()+"`", "`"+o.env+"`", "`"+o.yaml+"`", "`"+def+"`", o.description())
	}
	return b.String()
}

// usageFlag is the flag as written in help: "--http-addr ADDR", or
// "--name" for a bool.
func (o *option) usageFlag() string {
	if o.kind == kindBool {
		return "--" + o.flag
	}
	return "--" + o.flag + " " + o.meta
}

// description is the help tag completed with what the checks and kind add.
func (o *option) description() string {
	d := o.help
	if o.oneof != nil {
		d += " One of: " + strings.Join(o.oneof, ", ") + "."
	}
	if o.kind == kindList {
		d += " Repeat the flag or separate items with commas; in YAML a list also works."
	}
	return d
}
