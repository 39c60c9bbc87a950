// Package linux lowers a plan to the whole Linux run: one Artifact that
// runtime.Run executes and nothing more (DESIGN §4, "run = compile +
// execute").
//
// Lower asks its sibling targets for their parts — targets/bwrap for the
// mounts, targets/landlock for the ruleset, targets/seccomp for the filter,
// targets/proxy for the filter table — and puts them together with what
// only a whole run has: the complete bwrap argv (every bind, tmpfs, file
// mask and pin as a word of its own, rendered against the host's files
// through the injected Host, never by looking at the host itself), the
// host directories to create as mount points and remove afterwards, the
// private temp dir, the in-sandbox proxy ports and exposed ports, the
// environment filter, the init's options, and the fidelity report that
// says which rules this machine (Machine, a value the caller probes) would
// enforce less strictly than written and whether fence run must refuse.
//
// Values that differ from one run to the next are named placeholders, which
// the runtime substitutes and nothing else: {{fence}} (the fence binary
// bound into the sandbox and run as the init), {{tty}} (whether stdin is
// the foreground terminal) and {{command}} (the user's command line). The
// temp dir is plan data (compiler.Env.TempDir), not a placeholder: it is
// the same for every run of a user, and the sandbox mounts a fresh tmpfs
// there each time.
//
// The text form (MarshalText) is what `fence compile -t linux` prints and
// the golden corpus checks; MarshalJSON is the same artifact as a
// structure, which is also what the runtime hands the in-sandbox init.
package linux
