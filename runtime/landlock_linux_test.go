package runtime

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/internal/testfs"
	"github.com/fence-policy/fence/targets/landlock"
)

// hostDir makes a directory outside /tmp (the sandbox's /tmp is private, so
// a host path there would be invisible whatever the layers do) that every
// user may write on the host: only the sandbox's layers stand between the
// command and it, also when the tests run as an unprivileged user.
func hostDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/var/tmp", "fence-landlock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

// With the mounts relaxed (a writable root, no masks), Landlock alone keeps
// the command from writing outside the plan and from reading a denied
// directory; without Landlock the same relaxed sandbox lets both through,
// which shows that the relaxation is real.
func TestLandlockHoldsWithMountsRelaxed(t *testing.T) {
	cwd := t.TempDir()
	outside := hostDir(t)
	secret := filepath.Join(hostDir(t), "secret")
	if err := os.Mkdir(secret, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "key"), []byte("TOPSECRET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := testPlan(t, cwd, "allow write "+cwd, "deny read "+secret)
	script := `echo x > ` + outside + `/written; echo "write=$?"; cat ` + secret + `/key; echo "read=$?"; echo y > ` + cwd + `/ok; echo "cwd=$?"`

	relaxed := testOptions(t)
	relaxed.test.relaxMounts = true
	relaxed.test.noLandlock = true
	r := run(t, plan, relaxed, "sh", "-c", script)
	if r.err != nil || !strings.Contains(r.stdout, "write=0") || !strings.Contains(r.stdout, "TOPSECRET") {
		t.Fatalf("without Landlock and with relaxed mounts the write and read should pass (else this test shows nothing): %v", r)
	}
	os.Remove(filepath.Join(outside, "written"))

	relaxed.test.noLandlock = false
	r = run(t, plan, relaxed, "sh", "-c", script)
	if r.err != nil {
		t.Fatal(r)
	}
	if strings.Contains(r.stdout, "write=0") || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("Landlock did not refuse the write outside the plan: %v", r)
	}
	if _, err := os.Stat(filepath.Join(outside, "written")); err == nil {
		t.Errorf("the file outside the plan was written on the host")
	}
	if strings.Contains(r.stdout, "TOPSECRET") || strings.Contains(r.stdout, "read=0") {
		t.Errorf("Landlock did not refuse reading the denied directory: %v", r)
	}
	if !strings.Contains(r.stdout, "cwd=0") {
		t.Errorf("the allowed write failed: %v", r)
	}
}

// Landlock stays in force for every process the command starts, and a
// sandboxed root cannot leave it: the restriction is in the credentials
// the command inherits, and landlock_restrict_self only ever adds rules.
func TestLandlockInheritedAndPermanent(t *testing.T) {
	cwd := t.TempDir()
	outside := hostDir(t)
	// Both starts: the init's own restricted thread, and the exec shim
	// (a filter with a supervisor, here -m).
	for _, monitor := range []bool{false, true} {
		relaxed := testOptions(t)
		relaxed.test.relaxMounts = true
		relaxed.test.monitor = monitor
		r := run(t, testPlan(t, cwd, "allow write "+cwd), relaxed, "sh", "-c",
			`sh -c 'sh -c "echo x > `+outside+`/deep"'; echo "deep=$?"; exec env echo z > `+outside+`/exec; echo "exec=$?"`)
		if r.err != nil {
			t.Fatal(r)
		}
		if strings.Contains(r.stdout, "deep=0") || strings.Contains(r.stdout, "exec=0") {
			t.Errorf("monitor=%v: a descendant wrote outside the plan: %v", monitor, r)
		}
		for _, f := range []string{"deep", "exec"} {
			if _, err := os.Stat(filepath.Join(outside, f)); err == nil {
				t.Errorf("monitor=%v: %s written on the host", monitor, f)
			}
		}
	}
}

// Creating new files directly in the working directory works although it
// holds protected paths (Landlock grants the tree whole; the mounts keep
// the protected paths read-only), and a script can still write to
// /dev/stderr and /dev/stdout when they are files outside the sandbox.
func TestLandlockKeepsCommonWorkflows(t *testing.T) {
	cwd := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cwd, ".git", "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	plan := testPlan(t, cwd, "allow write "+cwd, "deny write "+filepath.Join(cwd, ".git", "hooks"))
	out, err := os.CreateTemp(hostDir(t), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	opts := testOptions(t)
	opts.Stdout = out
	r := run(t, plan, opts, "sh", "-c", `cd `+cwd+` && echo new > package-lock.json && mkdir node_modules && cat package-lock.json > /dev/stdout && echo hook > .git/hooks/pre-commit`)
	if r.err != nil {
		t.Fatal(r)
	}
	data, _ := os.ReadFile(out.Name())
	if string(data) != "new\n" {
		t.Errorf("stdout file = %q; %v", data, r)
	}
	if r.code == 0 {
		t.Errorf("the protected hook was written: %v", r)
	}
	if _, err := os.Stat(filepath.Join(cwd, ".git", "hooks", "pre-commit")); err == nil {
		t.Errorf("hook on the host")
	}
	if _, err := os.Stat(filepath.Join(cwd, "node_modules")); err != nil {
		t.Errorf("new directory not created in the working directory: %v", err)
	}
}

// A protected path that is a symbolic link in a writable directory cannot
// be kept: the mounts protect where it leads, not the link. fence refuses
// to start unless --best-effort, and then says so.
func TestSymlinkedProtectedPathRefused(t *testing.T) {
	home := t.TempDir()
	dotfiles := filepath.Join(home, "dotfiles")
	if err := os.Mkdir(dotfiles, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dotfiles, "bashrc"), []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(home, ".bashrc")
	// A relative link, as GNU Stow makes them. (bwrap cannot mount over an
	// absolute link whose target it resolves in its own staging root; with
	// --best-effort such a run fails in bwrap, still closed.)
	if err := os.Symlink("dotfiles/bashrc", rc); err != nil {
		t.Fatal(err)
	}
	plan := testPlan(t, home, "allow write "+home, "deny write "+rc)
	r := sh(t, plan, "rm "+rc+"; echo evil > "+rc)
	var se *SetupError
	if !errors.As(r.err, &se) || !strings.Contains(se.Cause, "symbolic link") || !strings.Contains(se.Fix, "--best-effort") {
		t.Fatalf("want a refusal naming the link: %v", r)
	}
	if fi, err := os.Lstat(rc); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link changed although the sandbox was refused")
	}

	opts := testOptions(t)
	opts.BestEffort = true
	r = run(t, plan, opts, "sh", "-c", "true")
	if r.err != nil || r.code != 0 || !strings.Contains(r.stderr, "symbolic link") {
		t.Errorf("--best-effort should run and print the weakened rule: %v", r)
	}

	// An absolute link too (bwrap would resolve it in its staging root):
	// under --best-effort the target is protected, the link is not.
	os.Remove(rc)
	if err := os.Symlink(filepath.Join(dotfiles, "bashrc"), rc); err != nil {
		t.Fatal(err)
	}
	r = run(t, plan, opts, "sh", "-c", "echo evil >> "+rc+"; echo rc=$?")
	if r.err != nil || strings.Contains(r.stdout, "rc=0") {
		t.Errorf("writing through the absolute link: %v", r)
	}
	if data, _ := os.ReadFile(filepath.Join(dotfiles, "bashrc")); string(data) != "# mine\n" {
		t.Errorf("the link's target changed: %q", data)
	}
}

// POSIX shared memory and semaphores live in /dev/shm, which is bwrap's
// private /dev: the command may use it (Python's multiprocessing needs it),
// and nothing reaches the host.
func TestLandlockPrivateDevShm(t *testing.T) {
	r := sh(t, testPlan(t, testfs.WorkDir(t)), `echo x > /dev/shm/fence-test && cat /dev/shm/fence-test && python3 -c "import multiprocessing as m; m.Lock(); print('lock')"`)
	if r.err != nil || r.code != 0 || r.stdout != "x\nlock\n" {
		t.Fatalf("/dev/shm is not usable: %v", r)
	}
	if _, err := os.Stat("/dev/shm/fence-test"); err == nil {
		t.Errorf("the sandbox's /dev/shm reached the host")
	}
}

// A denied path inside a directory the user may enter but not list: the
// sandbox still starts (as an unprivileged user the listing fails; as root
// it does not), and the denied file stays unreadable.
func TestLandlockUnlistableParent(t *testing.T) {
	dir := hostDir(t)
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"secret", "public"} {
		if err := os.WriteFile(filepath.Join(locked, f), []byte(f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(locked, 0o311); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	r := sh(t, testPlan(t, testfs.WorkDir(t), "deny read "+filepath.Join(locked, "secret")), "cat "+filepath.Join(locked, "secret")+"; echo rc=$?")
	if r.err != nil {
		t.Fatalf("the sandbox did not start: %v", r)
	}
	if strings.Contains(r.stdout, "secret\n") || strings.Contains(r.stdout, "rc=0") {
		t.Errorf("the denied file was read: %v", r)
	}
}

// The init runs nothing without the host's settings (the memfd that says,
// among the rest, which Landlock ABI to apply): it never defaults to none.
func TestInitRequiresHostSettings(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, "__init", "--", "true").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitSetup || !strings.Contains(string(out), "was not inherited") {
		t.Fatalf("want exit %d naming the missing settings, got %v: %s", ExitSetup, err, out)
	}
}

// targets/landlock spells the kernel's access rights portably (it builds
// on every OS); they must be x/sys/unix's values, which the runtime
// passes to the kernel.
func TestLandlockRightsMatchTheKernel(t *testing.T) {
	for got, want := range map[uint64]uint64{
		uint64(landlock.Execute): unix.LANDLOCK_ACCESS_FS_EXECUTE, uint64(landlock.WriteFile): unix.LANDLOCK_ACCESS_FS_WRITE_FILE,
		uint64(landlock.ReadFile): unix.LANDLOCK_ACCESS_FS_READ_FILE, uint64(landlock.ReadDir): unix.LANDLOCK_ACCESS_FS_READ_DIR,
		uint64(landlock.RemoveDir): unix.LANDLOCK_ACCESS_FS_REMOVE_DIR, uint64(landlock.RemoveFile): unix.LANDLOCK_ACCESS_FS_REMOVE_FILE,
		uint64(landlock.MakeChar): unix.LANDLOCK_ACCESS_FS_MAKE_CHAR, uint64(landlock.MakeDir): unix.LANDLOCK_ACCESS_FS_MAKE_DIR,
		uint64(landlock.MakeReg): unix.LANDLOCK_ACCESS_FS_MAKE_REG, uint64(landlock.MakeSock): unix.LANDLOCK_ACCESS_FS_MAKE_SOCK,
		uint64(landlock.MakeFifo): unix.LANDLOCK_ACCESS_FS_MAKE_FIFO, uint64(landlock.MakeBlock): unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK,
		uint64(landlock.MakeSym): unix.LANDLOCK_ACCESS_FS_MAKE_SYM, uint64(landlock.Refer): unix.LANDLOCK_ACCESS_FS_REFER,
		uint64(landlock.Truncate): unix.LANDLOCK_ACCESS_FS_TRUNCATE, uint64(landlock.IoctlDev): unix.LANDLOCK_ACCESS_FS_IOCTL_DEV,
	} {
		if got != want {
			t.Errorf("right %#x, kernel %#x", got, want)
		}
	}
	if uint64(landlock.BindTCP) != unix.LANDLOCK_ACCESS_NET_BIND_TCP || uint64(landlock.ConnectTCP) != unix.LANDLOCK_ACCESS_NET_CONNECT_TCP {
		t.Error("TCP rights differ from the kernel's")
	}
}
