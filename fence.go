package fence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/shquote"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/profiles"
	"github.com/fence-policy/fence/runtime"
	"github.com/fence-policy/fence/runtime/mounts"
	"github.com/fence-policy/fence/targets/linux"
)

// Config is a sandbox policy in the seed's terms: the fields of
// ~/.fence.json, with the same JSON names. The zero Config allows no
// network, reads everywhere and writes only to the sandbox's temp dir.
type Config struct {
	// Extends names shipped or user profiles ("default", "npm", …) or
	// absolute policy files to layer first. Not part of the seed format;
	// empty means the Config is the whole policy, as a ~/.fence.json is.
	Extends    []string         `json:"extends,omitempty"`
	Network    NetworkConfig    `json:"network,omitzero"`
	Filesystem FilesystemConfig `json:"filesystem,omitzero"`
	Command    CommandConfig    `json:"command,omitzero"`
	// AllowPty allows the command to allocate a pseudo-terminal.
	AllowPty bool `json:"allowPty,omitempty"`
}

// NetworkConfig is the seed's "network" object.
type NetworkConfig struct {
	// AllowedDomains are the hosts the command may reach: "example.com",
	// "*.example.com" (subdomains only), "host:443", IP addresses and CIDRs.
	AllowedDomains []string `json:"allowedDomains,omitempty"`
	// DeniedDomains win over AllowedDomains.
	DeniedDomains []string `json:"deniedDomains,omitempty"`
	// AllowUnixSockets are socket paths the command may connect to.
	AllowUnixSockets []string `json:"allowUnixSockets,omitempty"`
	// AllowAllUnixSockets allows every unix socket.
	AllowAllUnixSockets bool `json:"allowAllUnixSockets,omitempty"`
	// AllowLocalBinding lets the command listen on localhost.
	AllowLocalBinding bool `json:"allowLocalBinding,omitempty"`
	// AllowLocalOutbound lets allowed names resolve to local and private
	// addresses; nil means the value of AllowLocalBinding.
	AllowLocalOutbound *bool `json:"allowLocalOutbound,omitempty"`
	// HTTPProxyPort and SOCKSProxyPort fix the proxies' ports inside the
	// sandbox; 0 lets fence choose.
	HTTPProxyPort  int `json:"httpProxyPort,omitempty"`
	SOCKSProxyPort int `json:"socksProxyPort,omitempty"`
}

// FilesystemConfig is the seed's "filesystem" object.
type FilesystemConfig struct {
	// DenyRead hides paths (and everything below them) from the command.
	DenyRead []string `json:"denyRead,omitempty"`
	// AllowWrite are the paths the command may write; "." is the working
	// directory of the run.
	AllowWrite []string `json:"allowWrite,omitempty"`
	// DenyWrite win over AllowWrite.
	DenyWrite []string `json:"denyWrite,omitempty"`
	// AllowGitConfig lifts the write protection of .git/config files.
	AllowGitConfig bool `json:"allowGitConfig,omitempty"`
}

// CommandConfig is the seed's "command" object: command lines the command
// may not run (advisory: they match command lines, not every exec).
type CommandConfig struct {
	Deny  []string `json:"deny,omitempty"`
	Allow []string `json:"allow,omitempty"`
	// UseDefaults adds fence's list of dangerous commands (shutdown, mkfs,
	// dd if=, …); nil means true.
	UseDefaults *bool `json:"useDefaults,omitempty"`
}

// configName is the file name a Config's JSON is loaded under when it is
// compiled from memory; it shows in diagnostics.
const configName = "fence.Config.json"

// JSON returns the Config as the seed's JSON, the form the policy loader
// reads. Relative file references in Extends are made absolute against
// cwd, so the JSON means the same wherever it is stored.
func (c *Config) JSON(cwd string) ([]byte, error) {
	cfg := Config{}
	if c != nil {
		cfg = *c
	}
	if len(cfg.Extends) > 0 {
		ext := make([]string, len(cfg.Extends))
		for i, e := range cfg.Extends {
			if lang.IsFileRef(e) && !filepath.IsAbs(e) {
				e = filepath.Join(cwd, e)
			}
			ext[i] = e
		}
		cfg.Extends = ext
	}
	data, err := json.MarshalIndent(&cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// LoadConfig reads a settings file in the seed's JSON format
// (~/.fence.json) into a Config. Fields the Config does not have are an
// error; policies that use the full language (HCL, snake_case names, rules,
// expose) load with CompilePolicies instead.
func LoadConfig(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// Bounded as every policy load is: a regular file of at most 1 MiB.
	data, err := lang.ReadFile(hostFiles{}, strings.TrimPrefix(filepath.ToSlash(abs), "/"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var file struct {
		Schema string `json:"$schema"` // an editor hint, ignored as lang does
		Config
	}
	// JSONC, as the loader reads it: comments and trailing commas are
	// blanked with every byte kept at its offset, so positions still hold.
	dec := json.NewDecoder(bytes.NewReader(lang.BlankJSONC(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, se.Offset)
			return nil, fmt.Errorf("%s:%d:%d: %v", path, line, col, err)
		}
		return nil, fmt.Errorf("%s: %v (LoadConfig reads the seed's JSON fields; use CompilePolicies for the full policy language)", path, err)
	}
	return &file.Config, nil
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// Compile compiles cfg for this process (its HOME, working directory and
// environment) into the plan the sandbox enforces. The plan is nil when the
// diagnostics hold an error; FormatDiagnostics renders them.
func Compile(cfg *Config) (*ir.Plan, ir.Diagnostics) {
	c, err := compileConfig(cfg)
	if err != nil {
		return nil, ir.Diagnostics{errorDiag(err)}
	}
	return c.Plan, c.Diags
}

func compileConfig(cfg *Config) (*Compiled, error) {
	return CompileHost(func(l *lang.Loader, env compiler.Env) ([]*lang.Policy, ir.Diagnostics, error) {
		data, err := cfg.JSON(env.Cwd)
		if err != nil {
			return nil, ir.Diagnostics{errorDiag(err)}, nil
		}
		p, hds := l.LoadBytes(configName, data)
		if p == nil {
			return nil, compiler.FromHCL(hds), nil
		}
		return []*lang.Policy{p}, compiler.FromHCL(hds), nil
	})
}

// CompilePolicies loads and compiles policies as `fence run -p` does: each
// ref is a policy file (it has a "/" or a .hcl/.json suffix; relative to the
// working directory) or a profile name, layered left to right. Without refs
// it uses the user config (UserDirs.ConfigFiles: $XDG_CONFIG_HOME/fence/
// fence.hcl or fence.json, else ~/.fence.json), else the shipped "default"
// profile.
func CompilePolicies(refs ...string) (*ir.Plan, ir.Diagnostics) {
	c, err := CompileHost(func(l *lang.Loader, env compiler.Env) ([]*lang.Policy, ir.Diagnostics, error) {
		if len(refs) == 0 {
			refs = []string{DefaultPolicy(env)}
		}
		layers, ds := LoadLayers(l, refs, env.Cwd)
		if len(layers) != len(refs) {
			return nil, ds, nil
		}
		return layers, ds, nil
	})
	if err != nil {
		return nil, ir.Diagnostics{errorDiag(err)}
	}
	return c.Plan, c.Diags
}

// LoadLayers loads the policies named by refs (files relative to cwd, or
// profile names) in order, with the load diagnostics ready to render. A
// policy that failed to load is left out, so fewer layers than refs means
// an error among the diagnostics.
func LoadLayers(l *lang.Loader, refs []string, cwd string) ([]*lang.Policy, ir.Diagnostics) {
	var (
		layers []*lang.Policy
		ds     ir.Diagnostics
	)
	for _, ref := range refs {
		p, hds := l.Load(ref, cwd)
		ds = append(ds, compiler.FromHCL(hds)...)
		if p != nil {
			layers = append(layers, p)
		}
	}
	return layers, ds
}

// FormatDiagnostics renders diagnostics as fence's CLI prints them
// ("file:line:col: error: summary"), without source snippets.
func FormatDiagnostics(ds ir.Diagnostics) string {
	var b strings.Builder
	_ = compiler.WriteDiagnostics(&b, ds, nil)
	return b.String()
}

func errorDiag(err error) ir.Diagnostic {
	return ir.Diagnostic{Severity: ir.SevError, Summary: err.Error()}
}

// Explain decides one query ("net api.example.com:443", "read ~/.ssh/id_rsa",
// "write ./build", "exec git push") against plan, as `fence explain` does,
// and returns the decision with the deciding rules. Paths resolve against
// the plan's home and working directory.
func Explain(plan *ir.Plan, query string) (compiler.Answer, error) {
	if plan == nil {
		return compiler.Answer{}, errors.New("fence.Explain: nil plan")
	}
	env, err := HostEnv()
	if err != nil {
		return compiler.Answer{}, fmt.Errorf("fence: Explain: %w", err)
	}
	env.Home, env.Cwd, env.TempDir = plan.Context.Home, plan.Context.Cwd, plan.Context.TempDir
	return compiler.Explain(plan, env, query)
}

// RunOptions configure Run; see runtime.Options. Unlike Run, RunWithOptions
// takes them as they are: nil Stdin, Stdout and Stderr mean /dev/null and a
// nil Env an empty environment. When Stdout and Stderr are the same writer
// (not an *os.File), at most one goroutine at a time calls its Write, as
// with exec.Cmd. An empty InitPath is this program itself,
// which must call Main first thing in main (else the run fails with
// ErrNoInitHook); no fence binary is needed.
type RunOptions = runtime.Options

// Run runs argv in a sandbox built from plan, with this process's stdin,
// stdout, stderr and environment, and returns the command's exit status
// (128+N when it died of signal N). A non-nil error means the command never
// started: the *runtime.SetupError names the cause and the fix.
func Run(ctx context.Context, plan *ir.Plan, argv []string) (int, error) {
	return RunWithOptions(ctx, plan, argv, RunOptions{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Env: os.Environ(),
	})
}

// RunWithOptions is Run with the streams, environment, --resolve pins,
// logging and init binary given explicitly.
func RunWithOptions(ctx context.Context, plan *ir.Plan, argv []string, opts RunOptions) (int, error) {
	if opts.InitPath == "" {
		p, err := selfInit()
		if err != nil {
			return runtime.ExitSetup, &runtime.SetupError{Layer: "init", Cause: err.Error(), Fix: noHookFix, Err: err}
		}
		opts.InitPath = p
	}
	if opts.Stdout != nil && sameWriter(opts.Stdout, opts.Stderr) {
		if _, isFile := opts.Stdout.(*os.File); !isFile {
			// The runtime copies each stream into its writer from a
			// goroutine of its own; one writer must see one Write at a
			// time, as exec.Cmd promises for Stdout == Stderr.
			w := &lockedWriter{w: opts.Stdout}
			opts.Stdout, opts.Stderr = w, w
		}
	}
	monitor := opts.Log != nil && (opts.Log.Monitor || opts.Log.Debug)
	a, err := Lower(plan, monitor)
	if err != nil {
		return runtime.ExitSetup, err
	}
	return runtime.Run(ctx, a, argv, opts)
}

// sameWriter reports whether a and b are the same writer (== on
// comparable dynamic types, as exec.Cmd compares Stdout and Stderr).
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// lockedWriter serializes the writes of two streams into one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// HostParams are this machine's facts and files for targets/linux, as fence
// run lowers with them.
func HostParams(monitor bool) linux.Params {
	return linux.Params{Machine: runtime.HostMachine(""), Host: mounts.NewHostFS(), Monitor: monitor}
}

// Lower lowers plan for a run on this machine (targets/linux), asking the
// host's files what the mounts depend on: the artifact that `fence compile
// -t linux` prints and runtime.Run executes. monitor (fence run -m or -d)
// makes the seccomp filter report denied system calls and file accesses.
// An error is a *runtime.SetupError.
func Lower(plan *ir.Plan, monitor bool) (*linux.Artifact, error) {
	a, ds := linux.Lower(plan, HostParams(monitor))
	if ds.HasErrors() {
		for _, d := range ds {
			if d.Severity == ir.SevError {
				return nil, &runtime.SetupError{Layer: "plan", Cause: d.Summary}
			}
		}
	}
	return a, nil
}

// IsSupported reports whether sandboxes can run on this machine.
func IsSupported() bool { return Supported() == nil }

// Supported is IsSupported with the reason: nil, or an error naming what
// is missing (bubblewrap, user namespaces, …) and how to fix it.
func Supported() error { return runtime.Supported() }

// FindFence returns the absolute path of the fence binary on PATH.
func FindFence() (string, error) {
	p, err := exec.LookPath("fence")
	if err != nil {
		return "", fmt.Errorf("the fence binary is not on PATH: %w", err)
	}
	return filepath.Abs(p)
}

// Manager is the seed's API: it turns a Config into a policy file and
// shell command lines that run under it. The program itself runs them (it
// calls Main first in main); no separate fence binary is needed.
type Manager struct {
	// FencePath is the binary WrapCommand's lines start. Empty means this
	// program itself when it calls Main (the usual case), else the fence
	// binary on PATH; Initialize decides. A path set here is used as
	// given: a program that calls Main, or the fence binary of this
	// version (its CLI calls Main too).
	FencePath string

	cfg            *Config
	debug, monitor bool
	dir, policy    string
	warnings       ir.Diagnostics
}

// NewManager returns a manager for cfg (nil is the zero Config). debug and
// monitor become -d and -m in the wrapped commands: every proxy decision,
// or only blocked requests, on the command's stderr.
func NewManager(cfg *Config, debug, monitor bool) *Manager {
	return &Manager{cfg: cfg, debug: debug, monitor: monitor}
}

// PolicyError says that a Config or policy did not compile; Diags are
// its diagnostics (errors and warnings) and Error renders them with their
// source lines. errors.Is(err, ErrPolicy) is true for it.
type PolicyError struct {
	Diags   ir.Diagnostics
	Sources map[string][]byte
}

// ErrPolicy matches every *PolicyError.
var ErrPolicy = errors.New("not a valid policy")

func (e *PolicyError) Error() string {
	var b strings.Builder
	_ = compiler.WriteDiagnostics(&b, e.Diags, e.Sources)
	return "fence: the Config is not a valid policy:\n" + strings.TrimRight(b.String(), "\n")
}

// Is makes errors.Is(err, ErrPolicy) true.
func (e *PolicyError) Is(target error) bool { return target == ErrPolicy }

// Initialize checks the Config (compiling it as the wrapped commands
// will, so a bad rule fails here with its diagnostics, a *PolicyError),
// finds the binary the lines start (see FencePath), and writes the policy
// to a private file (mode 0600 in a fresh 0700 directory) that WrapCommand
// refers to. It does not start anything: each wrapped command starts its
// own sandbox and proxies. The policy's warnings are kept for Warnings;
// the wrapped commands do not print them again. Calling it again does
// nothing.
//
// Its errors say "fence: " once and wrap the cause: errors.Is finds
// ErrHome (HOME unset or relative), ErrPolicy and ErrNoInitHook (the
// program does not call Main and no fence binary is on PATH).
func (m *Manager) Initialize() error {
	if m.policy != "" {
		return nil
	}
	c, err := compileConfig(m.cfg)
	if err != nil {
		return fmt.Errorf("fence: Initialize: %w", err)
	}
	if c.Plan == nil || c.Diags.HasErrors() {
		return &PolicyError{Diags: c.Diags, Sources: c.Loader.Sources()}
	}
	fencePath := m.FencePath
	if fencePath == "" {
		p, err := selfInit()
		if err != nil {
			if errors.Is(err, ErrNoInitHook) {
				p, err = FindFence()
			}
			if err != nil {
				return fmt.Errorf("fence: Initialize: %w, and no fence binary is on PATH; call fence.Main() first in main, or set Manager.FencePath to the fence binary", ErrNoInitHook)
			}
		}
		fencePath = p
	}
	data, err := m.cfg.JSON(c.Plan.Context.Cwd)
	if err != nil {
		return fmt.Errorf("fence: Initialize: %w", err)
	}
	dir, err := os.MkdirTemp("", "fence-manager-")
	if err != nil {
		return fmt.Errorf("fence: cannot create the policy directory: %w", err)
	}
	// MkdirTemp makes it 0700 already; say so in case that ever changes.
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("fence: the policy directory: %w", err)
	}
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, data, 0o600); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("fence: cannot write the policy: %w", err)
	}
	m.FencePath, m.dir, m.policy = fencePath, dir, policy
	m.warnings = nil
	for _, d := range c.Diags {
		if d.Severity != ir.SevError {
			m.warnings = append(m.warnings, d)
		}
	}
	return nil
}

// Warnings are the policy's warnings (and notes) from Initialize, to show
// once: FormatDiagnostics renders them. The wrapped commands do not print
// them.
func (m *Manager) Warnings() ir.Diagnostics { return m.warnings }

// PolicyPath is the policy file Initialize wrote ("" before Initialize).
func (m *Manager) PolicyPath() string { return m.policy }

// ErrNotInitialized is WrapCommand's error before Initialize or after
// Cleanup.
var ErrNotInitialized = errors.New("WrapCommand before Initialize (or after Cleanup)")

// WrapCommand returns a shell command line that runs command (itself a
// shell command line, run with $SHELL when that is bash, zsh, sh, dash,
// ksh or mksh, else /bin/sh; see ChooseShell) in a sandbox under this
// manager's policy:
//
//	exec /path/to/program __run --policy /tmp/fence-manager-…/policy.json -c 'COMMAND'
//
// The program (FencePath: usually this one, which calls Main) runs the
// sandbox's host side itself. The line starts with exec, so the shell
// that runs it becomes that process: killing it (exec.CommandContext's
// cancellation, a signal) ends the sandbox too, rather than leaving it
// running under a shell that is gone. Every word is quoted for a POSIX
// shell, so command reaches the sandbox's shell exactly as given, whatever
// quotes, $(…), backticks or newlines it holds. The line exits with the
// command's status (128+N when it died of signal N, 125 when the sandbox
// could not start, 2 when the policy file no longer compiles).
func (m *Manager) WrapCommand(command string) (string, error) {
	if m.policy == "" {
		return "", fmt.Errorf("fence: %w", ErrNotInitialized)
	}
	if strings.TrimSpace(command) == "" {
		return "", errors.New("fence: WrapCommand: empty command")
	}
	words := []string{m.FencePath, "__run"}
	if m.debug {
		words = append(words, "-d")
	}
	if m.monitor {
		words = append(words, "-m")
	}
	words = append(words, "--policy", m.policy, "-c", command)
	for i, w := range words {
		words[i] = ShellQuote(w)
	}
	return "exec " + strings.Join(words, " "), nil
}

// Cleanup removes what Initialize created. The manager can be initialized
// again afterwards.
func (m *Manager) Cleanup() {
	if m.dir != "" {
		os.RemoveAll(m.dir)
	}
	m.dir, m.policy, m.warnings = "", "", nil
}

// ShellQuote quotes s as one word for a POSIX shell: unchanged when it
// holds only characters no shell treats specially, else in single quotes,
// inside which nothing is special; a single quote itself closes the
// quotes, is written escaped (\') and the quotes reopen.
func ShellQuote(s string) string { return shquote.POSIX(s) }

// ErrHome is HostEnv's error when HOME is unset or not absolute: a problem
// of the caller's environment, which the CLI reports as a usage error.
var ErrHome = errors.New("HOME must be set to an absolute path")

// HostEnv describes this process to the compiler, as the CLI does: HOME,
// the working directory, the environment, and the sandbox's private temp
// dir $TMPDIR/fence-UID (the runtime mounts a fresh tmpfs there for each
// run; compile, check and explain only show the path). It is the only place
// where fence's pure stages learn about the host.
func HostEnv() (compiler.Env, error) {
	home, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(home) {
		return compiler.Env{}, ErrHome
	}
	cwd, err := os.Getwd()
	if err != nil {
		return compiler.Env{}, fmt.Errorf("cannot tell the working directory: %w", err)
	}
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars[k] = v
		}
	}
	tmp := os.TempDir()
	if !filepath.IsAbs(tmp) {
		tmp = "/tmp"
	}
	real, err := filepath.EvalSymlinks(cwd)
	if err != nil || real == cwd {
		real = ""
	}
	return compiler.Env{
		Home:     filepath.Clean(home),
		Cwd:      cwd,
		RealCwd:  real,
		TempDir:  filepath.Join(tmp, "fence-"+strconv.Itoa(os.Getuid())),
		StateDir: mounts.StateDir(),
		Vars:     vars,
	}, nil
}

// NewLoader reads shipped profiles from the binary, user profiles from
// UserProfileDir(env) and files from the host.
func NewLoader(env compiler.Env) *lang.Loader {
	l := lang.NewLoader(profiles.FS, hostFiles{})
	l.UserProfileDir = UserProfileDir(env)
	l.Base = DefaultPolicy(env) // what extends = "@base" names
	return l
}
