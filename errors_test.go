package fence

import (
	"errors"
	"strings"
	"testing"
)

// noDoublePrefix fails when msg says "fence:" more than once.
func noDoublePrefix(t *testing.T, what string, err error) {
	t.Helper()
	if n := strings.Count(err.Error(), "fence:"); n > 1 {
		t.Errorf("%s: %q says \"fence:\" %d times", what, err, n)
	}
}

// TestErrorsTypedOnce: the API's errors wrap their cause once, so that
// errors.Is finds it, and say "fence:" once.
func TestErrorsTypedOnce(t *testing.T) {
	t.Run("HOME unset", func(t *testing.T) {
		plan, ds := Compile(&Config{})
		if ds.HasErrors() {
			t.Fatal(FormatDiagnostics(ds))
		}
		t.Setenv("HOME", "")
		m := NewManager(&Config{}, false, false)
		err := m.Initialize()
		if err == nil {
			m.Cleanup()
			t.Fatal("Initialize without HOME succeeded")
		}
		if !errors.Is(err, ErrHome) {
			t.Errorf("errors.Is(%q, ErrHome) = false", err)
		}
		if errors.Is(err, ErrPolicy) || strings.Contains(err.Error(), "not a valid policy") {
			t.Errorf("an unset HOME reported as a bad policy: %q", err)
		}
		if !strings.HasPrefix(err.Error(), "fence: ") {
			t.Errorf("%q does not start with fence:", err)
		}
		noDoublePrefix(t, "Initialize", err)

		_, ds = Compile(&Config{})
		if !ds.HasErrors() || strings.Count(FormatDiagnostics(ds), "fence:") > 1 || !strings.Contains(FormatDiagnostics(ds), ErrHome.Error()) {
			t.Errorf("Compile without HOME: %q", FormatDiagnostics(ds))
		}
		_, err = Explain(plan, "read /etc/passwd")
		if !errors.Is(err, ErrHome) {
			t.Errorf("Explain without HOME: %v", err)
		}
		noDoublePrefix(t, "Explain", err)
	})
	t.Run("bad policy", func(t *testing.T) {
		m := NewManager(&Config{Network: NetworkConfig{AllowedDomains: []string{"*.com"}}}, false, false)
		err := m.Initialize()
		if err == nil {
			m.Cleanup()
			t.Fatal("Initialize accepted *.com")
		}
		var pe *PolicyError
		if !errors.Is(err, ErrPolicy) || !errors.As(err, &pe) || !pe.Diags.HasErrors() {
			t.Errorf("bad policy: %T %v", err, err)
		}
		noDoublePrefix(t, "Initialize", err)
	})
	t.Run("not initialized", func(t *testing.T) {
		_, err := NewManager(nil, false, false).WrapCommand("true")
		if !errors.Is(err, ErrNotInitialized) {
			t.Errorf("WrapCommand before Initialize: %v", err)
		}
		noDoublePrefix(t, "WrapCommand", err)
	})
	t.Run("no init hook", func(t *testing.T) {
		unhook(t)
		t.Setenv("PATH", t.TempDir())
		m := NewManager(nil, false, false)
		err := m.Initialize()
		if err == nil {
			m.Cleanup()
		}
		if !errors.Is(err, ErrNoInitHook) {
			t.Errorf("Initialize without Main: %v", err)
		}
		noDoublePrefix(t, "Initialize", err)
	})
}
