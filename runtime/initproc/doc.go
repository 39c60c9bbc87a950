// Package initproc is the sandbox's init, the fence binary re-executed
// inside bwrap as `fence __init` (InitMain). It reads its settings — the
// artifact's linux.Init — from a sealed memfd, listens on the in-sandbox
// proxy ports and hands every accepted connection to the host over the
// bridge (runtime/bridge), connects exposed ports, resolves the Landlock
// ruleset against the mounts bwrap made, and starts the command through
// the exec shim (`fence __init -exec`), which restricts its own thread with
// Landlock and the seccomp filter and then execs the command. The init
// serves the filter's listener with runtime/supervisor, forwards signals,
// reaps orphans and reports the command's exit status. It lowers nothing:
// every rule it applies comes from the artifact.
package initproc
