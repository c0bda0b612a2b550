package fuzzrun

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// scratchModule writes a module with one package whose fuzz targets are
// the given sources, and a budgets file of small counts beside it.
func scratchModule(t *testing.T, fuzzSource string) (dir, budgets string) {
	t.Helper()
	dir = t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.test/scratch\n\ngo 1.26\n")
	write("p/p.go", "package p\n\n// Len is what the targets call.\nfunc Len(b []byte) int { return len(b) }\n")
	write("p/fuzz_test.go", fuzzSource)
	budgets = filepath.Join(dir, "budgets")
	write("budgets", "p FuzzClean 300\np FuzzPlanted 300\n")
	return dir, budgets
}

// runScript runs run.sh in dir and returns its output and exit code.
func runScript(t *testing.T, dir, budgets string) (string, int) {
	t.Helper()
	script, err := filepath.Abs("run.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "FUZZ_BUDGETS="+budgets, "GOWORK=off", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("run.sh: %v", err)
	}
	return string(out), 0
}

const cleanTarget = `package p

import "testing"

func FuzzClean(f *testing.F) {
	f.Add([]byte("seed"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if Len(b) < 0 {
			t.Fatal("negative length")
		}
	})
}
`

func TestRunPassesCleanTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and fuzzes a scratch module")
	}
	dir, budgets := scratchModule(t, cleanTarget)
	out, code := runScript(t, dir, budgets)
	if code != 0 {
		t.Fatalf("run.sh on a clean target: exit %d; want 0\n%s", code, out)
	}
	if !strings.Contains(out, "FuzzClean: 300 executions") {
		t.Errorf("run.sh did not use the budget from the file:\n%s", out)
	}
}

// TestRunFailsOnPlantedCrasher plants a seed that panics: the step must fail
// and name the target, even though the clean target beside it passes.
func TestRunFailsOnPlantedCrasher(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and fuzzes a scratch module")
	}
	dir, budgets := scratchModule(t, cleanTarget+`
func FuzzPlanted(f *testing.F) {
	f.Add([]byte("boom"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if string(b) == "boom" {
			panic("planted crasher")
		}
	})
}
`)
	out, code := runScript(t, dir, budgets)
	if code != 1 {
		t.Fatalf("run.sh with a planted crasher: exit %d; want 1\n%s", code, out)
	}
	for _, want := range []string{"planted crasher", "FAIL fuzz example.test/scratch/p FuzzPlanted", "fuzz: failed: p.FuzzPlanted"} {
		if !strings.Contains(out, want) {
			t.Errorf("run.sh output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunFailsOnBrokenPackage: a package whose tests do not build is a
// failure of the step, not a package without targets.
func TestRunFailsOnBrokenPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a scratch module")
	}
	dir, budgets := scratchModule(t, "package p\n\nfunc FuzzClean(f *testing.F) {}\n") // testing not imported
	out, code := runScript(t, dir, budgets)
	if code != 1 || !strings.Contains(out, "do not build") {
		t.Fatalf("run.sh on a package that does not build: exit %d; want 1 saying so\n%s", code, out)
	}
}

// TestBudgetsNameRealTargets keeps the budgets file in step with the code:
// every line names a fuzz target that exists in that package, and every
// fuzz target of the module has a line (a new one would otherwise get the
// default budget silently).
func TestBudgetsNameRealTargets(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	f, err := os.Open("budgets")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Errorf("budgets: %q is not: package target executions", line)
			continue
		}
		listed[fields[0]+" "+fields[1]] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	declared := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	found := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") || strings.Contains(path, "internal/fuzzrun") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, m := range declared.FindAllStringSubmatch(string(src), -1) {
			found[rel+" "+m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range listed {
		if !found[k] {
			t.Errorf("budgets lists %q, which no test file declares", k)
		}
	}
	for k := range found {
		if !listed[k] {
			t.Errorf("fuzz target %q has no line in budgets", k)
		}
	}
}
