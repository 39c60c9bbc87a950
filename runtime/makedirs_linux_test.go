package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fence-policy/fence/internal/testfs"
)

// A write rule's directory that does not exist yet is created before the
// run, owned by the user, so that the command's first write there works
// (bwrap could not bind a missing directory, and the command could not
// create it under the read-only root). fence says so; the directory stays;
// the next run finds it and says nothing.
func TestMissingWriteRootIsCreated(t *testing.T) {
	home := hostDir(t)
	cache := filepath.Join(home, ".cache", "tool")
	plan := testPlan(t, testfs.WorkDir(t), "allow write "+cache)
	r := mustRun(t, sh(t, plan, "echo data > "+cache+"/f && echo wrote"))
	if r.stdout != "wrote\n" || !strings.Contains(r.stderr, "fence: created "+cache+":") {
		t.Fatalf("first run: %v", r)
	}
	if b, err := os.ReadFile(filepath.Join(cache, "f")); err != nil || string(b) != "data\n" {
		t.Fatalf("on the host: %q, %v", b, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(cache, &st); err != nil || int(st.Uid) != os.Getuid() {
		t.Errorf("%s is owned by uid %d, want %d (%v)", cache, st.Uid, os.Getuid(), err)
	}
	r = mustRun(t, sh(t, plan, "cat "+cache+"/f"))
	if r.stdout != "data\n" || strings.Contains(r.stderr, "created") {
		t.Errorf("second run: %v", r)
	}
}

// A missing write root whose way passes a symbolic link (which a command
// could have planted in a tree it may write) is not created through it:
// fence warns before the run, the command's mkdir fails, and nothing
// appears where the link leads.
func TestMissingWriteRootNotThroughSymlink(t *testing.T) {
	home, outside := hostDir(t), hostDir(t)
	link := filepath.Join(home, "link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(link, "cache")
	plan := testPlan(t, testfs.WorkDir(t), "allow write "+root)
	r := sh(t, plan, "mkdir -p "+root+" 2>/dev/null; echo rc=$?")
	if r.err != nil || r.stdout == "rc=0\n" {
		t.Errorf("mkdir through the link: %v", r)
	}
	if !strings.Contains(r.stderr, "fence: warning: allow write "+root) || !strings.Contains(r.stderr, link+" is a symbolic link") {
		t.Errorf("no warning naming the link: %v", r)
	}
	if _, err := os.Lstat(filepath.Join(outside, "cache")); err == nil {
		t.Error("created where the link leads")
	}
}

// The attack on the above: something else that may write the tree (another
// sandbox's command, here a goroutine doing the same file operations)
// keeps turning the directory on the way into a symbolic link to a
// directory outside and back, while fence runs and creates the write root
// below it. Whatever each run makes of it (created, noted, refused),
// nothing is ever created where the link leads.
func TestMissingWriteRootRace(t *testing.T) {
	tree, outside := hostDir(t), hostDir(t)
	cache := filepath.Join(tree, "cache")
	plan := testPlan(t, testfs.WorkDir(t), "allow write "+filepath.Join(cache, "sub"))
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.RemoveAll(cache)
			os.Symlink(outside, cache)
			os.Remove(cache)
			os.Mkdir(cache, 0o777)
		}
	}()
	outcomes := map[string]int{}
	for range 20 {
		r := sh(t, plan, "true")
		switch {
		case strings.Contains(r.stderr, "fence: created"):
			outcomes["created"]++
		case r.err != nil:
			outcomes["refused"]++
		default:
			outcomes["other"]++
		}
	}
	t.Log(outcomes)
	close(stop)
	<-done
	if _, err := os.Lstat(filepath.Join(outside, "sub")); err == nil {
		t.Fatal("a write root was created through the symbolic link")
	}
}
