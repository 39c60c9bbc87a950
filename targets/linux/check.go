package linux

import (
	"strings"

	"github.com/fence-policy/fence/targets/landlock"
)

// Refusal is why fence run must not start an artifact: which layer, what is
// wrong, and how to fix it. The runtime reports it as its setup error.
type Refusal struct {
	Layer, Cause, Fix string
}

func (r *Refusal) Error() string { return r.Layer + ": " + r.Cause }

// Check decides whether the artifact may run on its machine. It refuses a
// machine that lacks a required layer; a machine without Landlock, and
// rules the machine or the host's files would enforce less strictly than
// written, unless the user accepted that (bestEffort): then it returns what
// is weaker, to be printed before the run.
func (a *Artifact) Check(bestEffort bool) (weaker []string, refusal *Refusal) {
	for _, l := range a.Fidelity.MissingLayers() {
		if l.Target == landlock.Target {
			if !bestEffort {
				return nil, &Refusal{
					Layer: "landlock",
					Cause: "Landlock, the sandbox's second file-system layer, is not available: " + l.Missing,
					Fix: "use Linux 5.13 or later built with CONFIG_SECURITY_LANDLOCK=y and landlock in the lsm= boot parameter " +
						"(cat /sys/kernel/security/lsm lists the active modules), or run with --best-effort to rely on the mount namespace alone",
				}
			}
			weaker = append(weaker, "the landlock layer is missing ("+l.Missing+"); the file-system rules rest on the mount namespace alone")
			continue
		}
		return nil, &Refusal{Layer: l.Target, Cause: "the " + l.Target + " layer is missing: " + l.Missing}
	}
	weaker = append(weaker, a.Fidelity.Weaker()...)
	weaker = append(weaker, a.HostWeaker...)
	if len(weaker) == 0 || bestEffort {
		return weaker, nil
	}
	return nil, &Refusal{
		Layer: "plan",
		Cause: "this machine would enforce these rules less strictly than written:\n" + strings.Join(weaker, "\n"),
		Fix:   "change the rules, or accept the weaker enforcement with --best-effort (fence compile -t fidelity shows every rule)",
	}
}
