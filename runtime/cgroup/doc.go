// Package cgroup gives a sandbox a cgroup of its own for the plan's
// memory, pids and cpu limits (targets/linux.CgroupLimits), watches it for
// the events that end a run (a process killed for memory, a fork refused
// at the pids limit) and removes it afterwards.
//
// Where the cgroup goes (Probe):
//
//   - cgroup v2 as root: /sys/fs/cgroup/fence/fence-PID-N, with the
//     controllers enabled in the fence directory's subtree_control;
//   - cgroup v2 as a user: a child of fence's own cgroup when that cgroup
//     is delegated to the user (systemd-run --user --scope -p Delegate=yes);
//     fence first moves itself into a leaf child, as the v2 rule that
//     processes live only in leaves requires;
//   - cgroup v1 as root: a child of fence's own cgroup in each controller's
//     hierarchy (so the sandbox stays inside the limits fence runs under).
//
// Otherwise there is none, Probe says why, and targets/linux falls back to
// rlimits or refuses (unless --best-effort).
//
// The sandbox's processes enter the cgroup before any of them exists:
// fence starts bwrap through `fence __init -cgroup PROCS… -- bwrap …`
// (JoinMain), which writes its own pid into each cgroup.procs and then
// execs bwrap, so every process bwrap makes is born inside. Nothing in the
// sandbox can write the cgroup's files: the root is read-only there, and
// Landlock grants no write to /sys.
package cgroup
