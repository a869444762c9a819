//go:build !unix

package watch

import "os"

// fileID is not available here; size and modification time must do.
func fileID(os.FileInfo) string { return "-" }
