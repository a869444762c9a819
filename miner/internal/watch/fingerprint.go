package watch

import (
	"fmt"
	"os"
	"strings"

	"github.com/taominer/taominer/models"
)

// Snapshot is what a repository folder holds: for each model name, a
// fingerprint of the files that define it. Equal fingerprints mean the
// engine would load the same thing; a fingerprint is never empty.
type Snapshot map[string]string

// Fingerprints scans a repository folder as the engine does (models.Scan)
// and fingerprints each model by the size, modification time and identity
// (device and inode, where the system has them) of its config file and of
// the version files its policy selects, plus the scan error of a model that
// cannot be served. It reads no model file: a change that keeps a file's
// size, modification time and inode is not seen (write a new file and
// rename it into place instead).
func Fingerprints(dir string) (Snapshot, error) {
	entries, err := models.Scan(dir)
	if err != nil {
		return nil, err
	}
	snap := make(Snapshot, len(entries))
	for i := range entries {
		snap[entries[i].Name] = fingerprint(&entries[i])
	}
	return snap, nil
}

func fingerprint(e *models.Entry) string {
	var b strings.Builder
	b.WriteString("model\n")
	if e.ConfigPath != "" {
		b.WriteString("config ")
		stamp(&b, e.ConfigPath)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, "error %q\n", e.Err.Error())
	}
	for _, v := range e.Selected() {
		fmt.Fprintf(&b, "version %d ", v.Version)
		stamp(&b, v.Path)
	}
	return b.String()
}

// stamp writes one file's identity and state.
func stamp(b *strings.Builder, path string) {
	st, err := os.Stat(path)
	if err != nil {
		fmt.Fprintf(b, "%s missing\n", path)
		return
	}
	fmt.Fprintf(b, "%s size=%d mtime=%d id=%s\n", path, st.Size(), st.ModTime().UnixNano(), fileID(st))
}
