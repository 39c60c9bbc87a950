package fence

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/proxytest"
	"github.com/fence-policy/fence/runtime/events"
)

// TestUpstreamProxyFromEnvironment is fence behind a corporate proxy: with
// HTTPS_PROXY set in fence's own environment, the sandbox's allowed
// traffic leaves through that proxy (a real one on loopback, with the
// credentials of the URL), and denied traffic does not leave at all. The
// proxy's address and password never reach the sandbox.
func TestUpstreamProxyFromEnvironment(t *testing.T) {
	t.Chdir(t.TempDir())
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello via %s", r.Host)
	}))
	defer web.Close()
	_, port, _ := strings.Cut(web.Listener.Addr().String(), ":")
	fwd := proxytest.StartForward(t, map[string]string{"allowed.fence.test": "127.0.0.1", "denied.fence.test": "127.0.0.1"})
	fwd.Auth = "alice:s3cret"
	t.Setenv("HTTPS_PROXY", fwd.URL("alice:s3cret"))
	for _, v := range []string{"https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(v, "")
	}

	plan, ds := Compile(&Config{Network: NetworkConfig{AllowedDomains: []string{"allowed.fence.test"}}})
	if ds.HasErrors() {
		t.Fatal(FormatDiagnostics(ds))
	}
	// The plan records the upstream, its password redacted.
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"https":"http://alice:***@`+fwd.Addr()+`"`) || strings.Contains(string(data), "s3cret") {
		t.Errorf("the plan does not record the upstream (redacted): network %+v", plan.Network)
	}
	// curl -p: every request as a CONNECT tunnel, which HTTPS_PROXY carries.
	script := fmt.Sprintf(`curl -sS -p http://allowed.fence.test:%s/ok; echo " [$?]"
curl -sS -p http://denied.fence.test:%s/no >/dev/null 2>&1; echo "denied [$?]"
env | grep -c -e s3c''ret -e %s`, port, port, fwd.Addr())
	var stdout, stderr bytes.Buffer
	log := &proxytest.Log{}
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	code, err := RunWithOptions(ctx, plan, []string{"/bin/sh", "-c", script}, RunOptions{
		Stdout: &stdout, Stderr: &stderr,
		Env:      append(slices.Clone(osEnvironForTest()), "PATH=/usr/bin:/bin"),
		Pins:     map[string][]netip.Addr{"allowed.fence.test": lo, "denied.fence.test": lo},
		Log:      &events.Logger{W: log, Debug: true},
		InitPath: testExecutable(t),
	})
	if err != nil {
		t.Fatalf("exit %d, %v; stderr %q", code, err, stderr.String())
	}
	want := fmt.Sprintf("hello via allowed.fence.test:%s [0]\ndenied [56]\n0\n", port)
	if stdout.String() != want {
		t.Errorf("stdout %q, want %q; stderr %q", stdout.String(), want, stderr.String())
	}
	// -d names the upstream, never with its password.
	for _, w := range []string{
		"allowed traffic leaves through the upstream proxy http://alice:***@" + fwd.Addr(),
		"net allow https allowed.fence.test:" + port,
		"through the upstream proxy http://alice:***@" + fwd.Addr(),
		"net deny https denied.fence.test:" + port,
	} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("the -d log lacks %q:\n%s", w, log)
		}
	}
	if strings.Contains(log.String(), "s3cret") {
		t.Errorf("the -d log shows the upstream's password:\n%s", log)
	}
	if got, want := fwd.Log(), []string{"CONNECT allowed.fence.test:" + port + " auth=alice:s3cret"}; !slices.Equal(got, want) {
		t.Errorf("the upstream proxy saw %q, want %q", got, want)
	}
}

// osEnvironForTest is this process's environment, HTTPS_PROXY with its
// credentials included, as fence run hands it to the sandbox.
func osEnvironForTest() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") {
			out = append(out, kv)
		}
	}
	return out
}
