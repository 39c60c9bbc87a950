// Package mounts owns the host directories a run creates as mount points:
// HostFS answers targets/linux's questions about the host's files before
// the artifact is compiled (a directory another run made as a mount point
// counts as missing, so the artifact lists it for this run too); Points
// creates, marks, shares under flock and removes the artifact's mount
// points and pins while the sandbox lives; CleanupMain is the watchdog
// that removes them when fence itself is killed. The runtime (sandbox_linux.go)
// hands it the artifact's lists and nothing else.
package mounts
