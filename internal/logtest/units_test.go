package logtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// durKey matches a zerolog duration field and its key: Dur("retry_in", d).
var durKey = regexp.MustCompile(`\bDur\("([^"]*)"`)

// TestDurationKeysCarryTheirUnit: zerolog writes a Dur field as a bare
// number of milliseconds, so every such key in the project's code says so
// (retry_in_ms); a duration meant to be read is a string field instead.
func TestDurationKeysCarryTheirUnit(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range durKey.FindAllStringSubmatch(string(src), -1) {
			if !strings.HasSuffix(m[1], "_ms") {
				t.Errorf("%s: duration key %q has no unit: name it %s_ms", path, m[1], m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
