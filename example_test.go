package fence_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/fence-policy/fence"
)

// Compile a seed-style Config and ask the plan what it allows, as
// `fence explain` does. Nothing runs; no bubblewrap or network is needed.
func ExampleCompile() {
	cfg := &fence.Config{
		Network: fence.NetworkConfig{
			AllowedDomains: []string{"api.example.com", "*.npmjs.org"},
			DeniedDomains:  []string{"evil.npmjs.org"},
		},
		Filesystem: fence.FilesystemConfig{DenyRead: []string{"/etc/passwd"}},
	}
	plan, diags := fence.Compile(cfg)
	if diags.HasErrors() {
		fmt.Print(fence.FormatDiagnostics(diags))
		return
	}
	for _, q := range []string{
		"net api.example.com:443",
		"net registry.npmjs.org:443",
		"net evil.npmjs.org:443",
		"net example.org:80",
		"read /etc/passwd",
	} {
		a, err := fence.Explain(plan, q)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-5s %s\n", a.Effect(), q)
		for _, r := range a.Rules {
			fmt.Printf("      %s  %s\n", r, r.Origin)
		}
	}
	// Output:
	// allow net api.example.com:443
	//       allow net api.example.com  fence.Config.json:4:7 (network.allowed_domains)
	// allow net registry.npmjs.org:443
	//       allow net *.npmjs.org  fence.Config.json:5:7 (network.allowed_domains)
	// deny  net evil.npmjs.org:443
	//       deny net evil.npmjs.org  fence.Config.json:8:7 (network.denied_domains)
	// deny  net example.org:80
	// deny  read /etc/passwd
	//       deny read /etc/passwd  fence.Config.json:13:7 (filesystem.deny_read)
}

// The seed's API: a Manager writes the Config as a private policy file and
// wraps shell commands so that they run in a sandbox under it. Without
// FencePath the lines start this program itself, which calls fence.Main
// first in main; here they name a fence binary instead.
func ExampleManager_WrapCommand() {
	cfg := &fence.Config{
		Network:    fence.NetworkConfig{AllowedDomains: []string{"api.example.com"}},
		Filesystem: fence.FilesystemConfig{AllowWrite: []string{"."}},
	}
	m := fence.NewManager(cfg, false, true)
	m.FencePath = "/usr/local/bin/fence"
	defer m.Cleanup()
	if err := m.Initialize(); err != nil {
		fmt.Println(err)
		return
	}
	wrapped, err := m.WrapCommand(`curl -s "https://api.example.com/data?q=it's"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The policy file's name is random; show it as $POLICY.
	fmt.Println(strings.ReplaceAll(wrapped, m.PolicyPath(), "$POLICY"))
	policy, err := os.ReadFile(m.PolicyPath())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(policy))
	// Output:
	// exec /usr/local/bin/fence __run -m --policy $POLICY -c 'curl -s "https://api.example.com/data?q=it'\''s"'
	// {
	//   "network": {
	//     "allowedDomains": [
	//       "api.example.com"
	//     ]
	//   },
	//   "filesystem": {
	//     "allowWrite": [
	//       "."
	//     ]
	//   }
	// }
}

// A program that embeds fence calls fence.Main first in main: re-executed
// as the sandbox's init (or another of fence's internal commands) it runs
// that and exits, and otherwise it returns at once. Then Run needs no
// fence binary. (Not run here: examples/embed is a whole program.)
func ExampleMain() {
	fence.Main()

	plan, diags := fence.Compile(&fence.Config{Filesystem: fence.FilesystemConfig{AllowWrite: []string{"."}}})
	if diags.HasErrors() {
		fmt.Print(fence.FormatDiagnostics(diags))
		os.Exit(2)
	}
	code, err := fence.Run(context.Background(), plan, []string{"make", "test"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // *runtime.SetupError: the cause and the fix
		os.Exit(125)
	}
	os.Exit(code)
}
