package deptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayoutTable keeps the layout table of docs/design.md true: a row for every
// package of the module (and no row for one that is not), with exactly the
// module's packages it imports.
func TestLayoutTable(t *testing.T) {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	dir := strings.TrimSpace(string(root))
	module, err := exec.Command("go", "list", "-m").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	prefix := strings.TrimSpace(string(module)) + "/"
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./...: %v", err)
	}
	want := map[string][]string{} // package -> project imports, relative
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], prefix)
		var imports []string
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, prefix); ok {
				imports = append(imports, rel)
			}
		}
		slices.Sort(imports)
		want[pkg] = imports
	}

	readme, err := os.ReadFile(filepath.Join(dir, "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("docs/design.md has no Layout section")
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	got := map[string][]string{}
	for line := range strings.Lines(layout) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue // not a package row
		}
		pkg := strings.Trim(strings.TrimSpace(cells[1]), "`")
		var imports []string
		for imp := range strings.SplitSeq(cells[3], ",") {
			if imp = strings.Trim(strings.TrimSpace(imp), "`"); imp != "" {
				imports = append(imports, imp)
			}
		}
		slices.Sort(imports)
		if _, dup := got[pkg]; dup {
			t.Errorf("docs/design.md layout: %s has two rows", pkg)
		}
		got[pkg] = imports
	}
	for pkg, imports := range want {
		row, ok := got[pkg]
		switch {
		case !ok:
			t.Errorf("docs/design.md layout: no row for package %s", pkg)
		case !slices.Equal(row, imports):
			t.Errorf("docs/design.md layout: %s imports %q; the table says %q", pkg, imports, row)
		}
	}
	for pkg := range got {
		if _, ok := want[pkg]; !ok {
			t.Errorf("docs/design.md layout: %s is not a package of the module", pkg)
		}
	}
}
