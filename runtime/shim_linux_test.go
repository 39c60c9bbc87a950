package runtime

import (
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/testfs"
)

// The init serves the seccomp listener for the whole run, whatever its
// garbage collector does: GOGC=1 (the init inherits the environment) makes
// it collect all the time, so a listener descriptor owned by a collected
// *os.File would be closed under the supervisor, and every exec after that
// would fail with ENOSYS.
func TestSupervisorOutlivesGarbageCollection(t *testing.T) {
	opts := testOptions(t)
	opts.Env = append(opts.Env, "GOGC=1")
	r := run(t, testPlan(t, testfs.WorkDir(t), "deny exec shutdown"), opts, "sh", "-c",
		`i=0; while [ $i -lt 300 ]; do /bin/true || { echo "exec $i failed"; exit 1; }; i=$((i+1)); done; echo done`)
	if r.err != nil || r.code != 0 || !strings.Contains(r.stdout, "done") {
		t.Fatalf("execs failed once the init collected garbage: %v", r)
	}
}
