// Package mounts owns the host directories (and stand-in files, for
// missing protected files) a run creates as mount points.
// HostFS answers targets/linux's questions about the host's files before
// the artifact is compiled (a directory fence made as a mount point counts
// as missing, so the artifact lists it for this run too); Points creates
// the artifact's mount points and pins, records them in fence's registry
// (under StateDir, outside every tree a sandbox may write), shares them
// with concurrent runs under flock and removes them when the last run
// ends; CleanupMain is the watchdog that removes them when fence itself is
// killed. Nothing in the user's tree decides what fence removes. The
// runtime (sandbox_linux.go) hands it the artifact's lists and nothing
// else.
package mounts
