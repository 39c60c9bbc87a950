package bwrap

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const renderedBase = `--ro-bind / /
--dev /dev
--proc /proc
--tmpfs /tmp
--ro-bind /proc/sys /proc/sys
`

func TestRenderTail(t *testing.T) {
	a := lowerOK(t, mkPlan(t))
	inv := render(t, a, newFS("/home/u/proj/"))
	n := len(inv.Argv)
	if n < 20 {
		t.Fatalf("argv too short: %q", inv.Argv)
	}
	wantHead := []string{"--unshare-user", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
		"--unshare-cgroup-try", "--disable-userns", "--die-with-parent", "--cap-drop", "ALL"}
	if diff := cmp.Diff(wantHead, inv.Argv[:10]); diff != "" {
		t.Errorf("argv head (-want +got):\n%s", diff)
	}
	wantTail := []string{"--ro-bind", "/opt/fence/bin/fence", "/opt/fence/bin/fence", "--chdir", "/home/u/proj",
		"--", "/usr/libexec/fence", "__init", "--", "sh"}
	if diff := cmp.Diff(wantTail, inv.Argv[n-10:]); diff != "" {
		t.Errorf("argv tail (-want +got):\n%s", diff)
	}
	if len(inv.Created) != 0 {
		t.Errorf("Created = %q", inv.Created)
	}
	argv, err := a.Argv(newFS("/home/u/proj/").facts())
	if err != nil || !slices.Equal(argv, inv.Argv) {
		t.Errorf("Argv = %q, %v", argv, err)
	}
}

func TestRenderMounts(t *testing.T) {
	tests := []struct {
		name    string
		rules   []string
		fs      []string
		want    string
		created []string
	}{{
		name:  "mask: tmpfs over a directory, /dev/null over a file, nothing over a missing path outside writable binds",
		rules: []string{"deny read /home/u/.ssh", "deny read /home/u/.netrc", "deny read /home/u/.aws"},
		fs:    []string{"/home/u/.ssh/id_rsa", "/home/u/.netrc"},
		want: renderedBase + `--ro-bind /dev/null /home/u/.netrc
--tmpfs /home/u/.ssh --remount-ro /home/u/.ssh
`,
	}, {
		name:  "deny write of an existing path: a read-only bind, after the pin",
		rules: []string{"allow write /home/u/proj", "deny write /home/u/proj/.git/hooks"},
		fs:    []string{"/home/u/proj/.git/hooks/"},
		want: renderedBase + `--bind /home/u/proj /home/u/proj
--bind /home/u/proj/.git /home/u/proj/.git
--ro-bind /home/u/proj/.git/hooks /home/u/proj/.git/hooks
`,
	}, {
		name:  "deny of a missing path under a writable bind: created pins and an empty read-only directory",
		rules: []string{"allow write /home/u/proj", "deny write /home/u/proj/.git/hooks", "deny read /home/u/proj/.env"},
		fs:    []string{"/home/u/proj/"},
		want: renderedBase + `--bind /home/u/proj /home/u/proj
--tmpfs /home/u/proj/.env --remount-ro /home/u/proj/.env
--dir /home/u/proj/.git --bind /home/u/proj/.git /home/u/proj/.git
--tmpfs /home/u/proj/.git/hooks --remount-ro /home/u/proj/.git/hooks
`,
		created: []string{"/home/u/proj/.env", "/home/u/proj/.git"},
	}, {
		name:  "a writable bind of a missing path is dropped, and the deny below it with it",
		rules: []string{"allow write /home/u/proj", "deny write /home/u/proj/.git/hooks", "allow write /tmp/fence-1"},
		fs:    []string{"/home/u/"},
		want:  renderedBase,
	}, {
		name:  "temp dir inside the private /tmp",
		rules: []string{"allow write /tmp/fence-1", "deny write /tmp/fence-1/ro"},
		fs:    []string{"/tmp/fence-1/ro"},
		want: renderedBase + `--bind /tmp/fence-1 /tmp/fence-1
--ro-bind /tmp/fence-1/ro /tmp/fence-1/ro
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := lowerOK(t, mkPlan(t, tt.rules...))
			inv := render(t, a, newFS(tt.fs...))
			if diff := cmp.Diff(tt.want, mountLines(inv.Argv)); diff != "" {
				t.Errorf("mounts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.created, inv.Created); diff != "" {
				t.Errorf("Created (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderGlobs(t *testing.T) {
	p := mkPlan(t,
		"allow write /home/u/proj",
		"deny read /home/u/proj/**/.env",
		"deny write /home/u/proj/**/.git/hooks",
		"allow write /home/u/build-*",
		"deny write /home/u/build-b",
	)
	fs := newFS(
		"/home/u/proj/.env",
		"/home/u/proj/a/.env/", // a directory named .env: masked as a whole
		"/home/u/proj/a/.env/inner/.env",
		"/home/u/proj/b/c/.env",
		"/home/u/proj/.git/hooks/pre-commit",
		"/home/u/proj/sub/.git/hooks/",
		"/home/u/build-a/", "/home/u/build-b/", "/home/u/buildx/",
	)
	fs.add("/home/u/proj/link/.env")
	fs.links["/home/u/proj/link"] = true // a symlinked directory is not searched
	a := lowerOK(t, p)
	inv := render(t, a, fs)
	want := renderedBase + `--bind /home/u/build-a /home/u/build-a
--bind /home/u/proj /home/u/proj
--ro-bind /dev/null /home/u/proj/.env
--bind /home/u/proj/.git /home/u/proj/.git
--tmpfs /home/u/proj/a/.env --remount-ro /home/u/proj/a/.env
--ro-bind /home/u/proj/.git/hooks /home/u/proj/.git/hooks
--ro-bind /dev/null /home/u/proj/b/c/.env
--bind /home/u/proj/sub/.git /home/u/proj/sub/.git
--ro-bind /home/u/proj/sub/.git/hooks /home/u/proj/sub/.git/hooks
`
	// Pins of proj/a, proj/b, proj/b/c and proj/sub are also expected.
	if got := mountLines(inv.Argv); !sameMounts(got, want, "--bind /home/u/proj/a /home/u/proj/a", "--bind /home/u/proj/b /home/u/proj/b",
		"--bind /home/u/proj/b/c /home/u/proj/b/c", "--bind /home/u/proj/sub /home/u/proj/sub") {
		t.Errorf("mounts:\n%s\nwant (plus pins):\n%s", got, want)
	}
}

// sameMounts compares mount lines as sets, with extra lines expected too,
// and checks that got is in depth order.
func sameMounts(got, want string, extra ...string) bool {
	g := strings.Split(strings.TrimSpace(got), "\n")
	w := append(strings.Split(strings.TrimSpace(want), "\n"), extra...)
	for i := 1; i < len(g); i++ {
		if depth(strings.Fields(g[i])[len(strings.Fields(g[i]))-1]) < depth(strings.Fields(g[i-1])[len(strings.Fields(g[i-1]))-1]) {
			return false
		}
	}
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func TestRenderErrors(t *testing.T) {
	a := lowerOK(t, mkPlan(t, "deny read /home/u/.ssh", "deny read /home/u/**/.env"))
	fs := newFS("/home/u/.ssh/", "/home/u/proj/")

	f := fs.facts()
	f.Init = nil
	if _, err := a.Render(f); err == nil || !strings.Contains(err.Error(), "Init") {
		t.Errorf("empty Init: %v", err)
	}

	f = fs.facts()
	f.RuntimeBinds = []string{"/home/u/.ssh/agent"}
	if _, err := a.Render(f); err == nil || !strings.Contains(err.Error(), "below the denied path /home/u/.ssh") {
		t.Errorf("runtime bind under a mask: %v", err)
	}
	f.RuntimeBinds = []string{"relative/x"}
	if _, err := a.Render(f); err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Errorf("relative runtime bind: %v", err)
	}

	fs.statErr = "/home/u/.ssh"
	if _, err := a.Render(fs.facts()); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Stat error not propagated: %v", err)
	}
	fs.statErr = ""

	f = fs.facts()
	f.ReadDir = nil
	if _, err := a.Render(f); err == nil || !strings.Contains(err.Error(), "ReadDir") {
		t.Errorf("missing ReadDir with globs: %v", err)
	}
}

func TestRuntimeBindsComeLast(t *testing.T) {
	a := lowerOK(t, mkPlan(t, "allow write /tmp/fence-1"))
	f := newFS("/tmp/fence-1/").facts()
	f.RuntimeBinds = []string{"/tmp/fence-1/sock", "/opt/fence/bin/fence", "/tmp/fence-1/sock"}
	inv, err := a.Render(f)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Join(inv.Argv, " ")
	want := "--bind /tmp/fence-1 /tmp/fence-1 --ro-bind /opt/fence/bin/fence /opt/fence/bin/fence --ro-bind /tmp/fence-1/sock /tmp/fence-1/sock --chdir /home/u/proj -- /usr/libexec/fence __init -- sh"
	if !strings.HasSuffix(s, want) {
		t.Errorf("argv:\n%s\nwant suffix:\n%s", s, want)
	}
}

// Without CreateMissing, Render touches no host path: a missing denied path
// under a writable bind is reported as uncovered instead of mounted over.
func TestRenderWithoutCreateMissing(t *testing.T) {
	a := lowerOK(t, mkPlan(t, "allow write /home/u/proj", "deny write /home/u/proj/.git/hooks", "deny read /home/u/proj/.env", "deny write /home/u/proj/vendor"))
	f := newFS("/home/u/proj/", "/home/u/proj/vendor/").facts()
	f.CreateMissing = false
	inv, err := a.Render(f)
	if err != nil {
		t.Fatal(err)
	}
	want := renderedBase + `--bind /home/u/proj /home/u/proj
--ro-bind /home/u/proj/vendor /home/u/proj/vendor
`
	if diff := cmp.Diff(want, mountLines(inv.Argv)); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	if len(inv.Created) != 0 {
		t.Errorf("Created = %v, want none", inv.Created)
	}
	if diff := cmp.Diff([]string{"/home/u/proj/.env", "/home/u/proj/.git/hooks"}, inv.Uncovered); diff != "" {
		t.Errorf("Uncovered (-want +got):\n%s", diff)
	}
}

// A missing denied path under a directory the host user cannot write needs
// no mount: the command, running as that user, cannot create it, and bwrap
// could not create the mount point.
func TestRenderSkipsUncreatable(t *testing.T) {
	a := lowerOK(t, mkPlan(t, "allow write /srv/ro", "deny write /srv/ro/.git/hooks", "deny read /srv/ro/.env"))
	f := newFS("/srv/ro/").facts()
	f.Writable = func(dir string) bool { return dir != "/srv/ro" }
	inv, err := a.Render(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := renderedBase + "--bind /srv/ro /srv/ro\n"; mountLines(inv.Argv) != want {
		t.Errorf("mounts:\n%s\nwant:\n%s", mountLines(inv.Argv), want)
	}
	if len(inv.Created) != 0 {
		t.Errorf("Created = %v, want none", inv.Created)
	}
}

// A denied path that is a symbolic link is mounted over where it leads
// (Facts.Resolve), both as a mask and as a read-only bind.
func TestRenderResolvesFinalLinks(t *testing.T) {
	a := lowerOK(t, mkPlan(t, "allow write /home/u", "deny write /home/u/.bashrc", "deny read /home/u/.netrc"))
	f := newFS("/home/u/.bashrc", "/home/u/.netrc", "/home/u/dotfiles/bashrc", "/home/u/dotfiles/netrc").facts()
	links := map[string]string{"/home/u/.bashrc": "/home/u/dotfiles/bashrc", "/home/u/.netrc": "/home/u/dotfiles/netrc"}
	f.Resolve = func(p string) (string, error) {
		if t, ok := links[p]; ok {
			return t, nil
		}
		return p, nil
	}
	inv, err := a.Render(f)
	if err != nil {
		t.Fatal(err)
	}
	got := mountLines(inv.Argv)
	for _, want := range []string{"--ro-bind /home/u/dotfiles/bashrc /home/u/dotfiles/bashrc\n", "--ro-bind /dev/null /home/u/dotfiles/netrc\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
